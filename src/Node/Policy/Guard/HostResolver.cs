using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Policy.Guard;

/// <summary>
/// Name resolution for upstream connections: entries of Resolver:HostsFile (hosts(5) format, like Squid's
/// hosts_file) first, then DNS. Resolution happens once per connection, and the guard checks its result.
/// </summary>
public sealed class HostResolver
{
    private readonly Dictionary<string, IPAddress[]> _static = new(StringComparer.OrdinalIgnoreCase);

    public HostResolver(NodeSettings settings)
    {
        if (settings.Policy.Guard.HostsFile is { } path) Load(path);
    }

    private void Load(string path)
    {
        var map = new Dictionary<string, List<IPAddress>>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in File.ReadLines(path))
        {
            var line = raw;
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2 || !IPAddress.TryParse(parts[0], out var address)) continue;
            foreach (var name in parts.Skip(1))
            {
                if (!map.TryGetValue(name, out var list)) map[name] = list = [];
                list.Add(address);
            }
        }
        foreach (var (name, list) in map) _static[name] = [.. list];
    }

    public async ValueTask<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host, out var literal)) return [literal];
        if (_static.TryGetValue(host.TrimEnd('.'), out var fixedAddresses)) return fixedAddresses;
        try { return await Dns.GetHostAddressesAsync(host, ct); }
        catch (ArgumentException) { throw new SocketException((int)SocketError.HostNotFound); }
    }
}
