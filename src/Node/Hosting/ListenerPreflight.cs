using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// Before anything starts: is each configured listener's port free? A port held by another process is a
/// configuration error naming its key, rather than Kestrel's or Orleans' failure half-way through start-up
/// (with stack traces from every component stopping again).
/// </summary>
public static class ListenerPreflight
{
    public static void Check(NodeSettings settings)
    {
        var errors = new List<string>();
        foreach (var ep in settings.Proxy.Listen) Probe("Proxy:Listen", ep, errors);
        foreach (var ep in settings.Management.Listen) Probe("Management:Listen", ep, errors);
        Probe("Cluster:SiloPort", new IPEndPoint(IPAddress.Any, settings.Cluster.SiloPort), errors);
        if (errors.Count > 0) throw new NodeConfigurationException(errors);
    }

    private static void Probe(string key, IPEndPoint ep, List<string> errors)
    {
        if (ep.Port == 0) return; // any free port
        using var socket = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As Kestrel does: a port left in TIME_WAIT by our own last run is free to use again.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try { socket.Bind(ep); }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            errors.Add($"{key}: {ep} is already in use by another process (another node on this host? choose another port or stop it)");
        }
        catch (SocketException) { } // e.g. an address this host lacks: Kestrel's own error says it better
    }
}
