using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// The address last connected to for each upstream host and port, for the access log's peer field (Squid's
/// %&lt;a: the server's IP, never its name). HttpClient pools connections and does not say which one a response
/// came on, so this is the address of the newest connection to that host: exact unless the name resolves to
/// several addresses and connections to more than one are open at once.
/// </summary>
public sealed class PeerAddresses
{
    // Bounded: a proxy meets an unbounded number of hosts; forgetting all at once is cheap and rarely matters.
    private const int Limit = 10_000;
    private readonly ConcurrentDictionary<(string Host, int Port), IPAddress> _last = new();

    /// <summary>Notes the address a new upstream connection reached.</summary>
    public Socket Connected(string host, int port, Socket socket)
    {
        if (socket.RemoteEndPoint is IPEndPoint ep)
        {
            if (_last.Count >= Limit) _last.Clear();
            _last[(host.ToLowerInvariant(), port)] = Normalise(ep.Address);
        }
        return socket;
    }

    public IPAddress? Last(string host, int port) =>
        _last.TryGetValue((host.Trim('[', ']').ToLowerInvariant(), port), out var a) ? a : null;

    /// <summary>IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d; logs and analysers expect a.b.c.d.</summary>
    public static IPAddress Normalise(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
