using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Management;

/// <summary>Which stored entries a host / prefix / surrogate-key purge removes.</summary>
public static class PurgeMatcher
{
    public static bool Matches(PurgeMatch match, EntryHead head)
    {
        var urlKey = VaryMarker.UrlKeyOf(head.CacheKey);
        switch (match.Kind)
        {
            case PurgeKind.Url:
                return string.Equals(urlKey, match.Value, StringComparison.Ordinal);
            case PurgeKind.Prefix:
                return urlKey.StartsWith(match.Value, StringComparison.Ordinal);
            case PurgeKind.Host:
                if (!Uri.TryCreate(urlKey, UriKind.Absolute, out var uri)) return false;
                // "example.org" matches every port and scheme; "example.org:8080" only that port.
                var (host, port) = SplitHost(match.Value);
                return string.Equals(uri.IdnHost.Trim('[', ']'), host, StringComparison.OrdinalIgnoreCase) && (port is null || port == uri.Port);
            case PurgeKind.SurrogateKey:
                return HasSurrogateKey(head.Headers, "Surrogate-Key", match.Value) || HasSurrogateKey(head.Headers, "Cache-Tag", match.Value);
            default:
                return false;
        }
    }

    /// <summary>"host", "host:port", "[v6]" or "[v6]:port" → host without brackets and the port if given.</summary>
    public static (string Host, int? Port) SplitHost(string value)
    {
        value = value.Trim();
        int colon = value.LastIndexOf(':');
        if (colon > value.LastIndexOf(']') && (value.StartsWith('[') || value.IndexOf(':') == colon)
            && int.TryParse(value.AsSpan(colon + 1), out var port))
            return (value[..colon].Trim('[', ']'), port);
        return (value.Trim('[', ']'), null);
    }

    /// <summary>Surrogate-Key (space separated, Fastly) and Cache-Tag (comma separated, Cloudflare/Akamai): either separator.</summary>
    private static bool HasSurrogateKey(string[] headers, string name, string key)
    {
        for (int i = 0; i + 1 < headers.Length; i += 2)
        {
            if (!headers[i].Equals(name, StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var token in headers[i + 1].Split([' ', ',', '\t'], StringSplitOptions.RemoveEmptyEntries))
                if (string.Equals(token, key, StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
