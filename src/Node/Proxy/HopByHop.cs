using Microsoft.Extensions.Primitives;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// Hop-by-hop fields (RFC 9110 7.6.1) belong to one connection and are never forwarded or stored, nor are
/// the fields a message's own Connection header names.
/// </summary>
public static class HopByHop
{
    private static readonly HashSet<string> Fixed = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
        "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    public static bool IsFixed(string name) => Fixed.Contains(name);

    /// <summary>The extra names listed in Connection, or null when it lists none beyond the usual options.</summary>
    public static HashSet<string>? ConnectionListed(StringValues connection)
    {
        HashSet<string>? set = null;
        foreach (var line in connection)
        {
            if (line is null) continue;
            foreach (var range in line.AsSpan().Split(','))
            {
                var token = line.AsSpan()[range].Trim();
                if (token.IsEmpty || token.Equals("close", StringComparison.OrdinalIgnoreCase)
                    || token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)) continue;
                (set ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(token.ToString());
            }
        }
        return set;
    }

    public static bool Skip(string name, HashSet<string>? listed) =>
        Fixed.Contains(name) || (listed is not null && listed.Contains(name));
}
