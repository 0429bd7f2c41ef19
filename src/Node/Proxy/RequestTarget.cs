using CacheCluster.Node.Configuration;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// What a request asks for: the URL we forward to (exactly as the client wrote its path and query, no
/// re-encoding) and the cache key (scheme and host lower-cased, default port dropped, path and query
/// byte-for-byte). Percent-encodings are not decoded: %41 and A are different keys, which can only cost a
/// hit, never serve the wrong object.
/// </summary>
public sealed record RequestTarget(string CacheKey, string? HostOverride)
{
    private static readonly UriCreationOptions RawPath = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private Uri? _upstream;
    private readonly string? _url; // for a lazily parsed UpstreamUri (a variant's CacheKey differs from its URL)

    public RequestTarget(Uri upstreamUri, string cacheKey, string? hostOverride) : this(cacheKey, hostOverride) => _upstream = upstreamUri;

    private RequestTarget(string url) : this(url, (string?)null) => _url = url;

    /// <summary>
    /// The URL forwarded to. For a target already in canonical form it is parsed only when needed: a hit never
    /// forwards, and parsing was a fifth of a hit's allocations.
    /// </summary>
    public Uri UpstreamUri
    {
        get => _upstream ??= new Uri(_url!, in RawPath);
        init => _upstream = value;
    }

    public static bool TryParse(HttpContext ctx, ProxySettings settings, out RequestTarget target, out string error)
    {
        target = null!;
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "/";
        if (raw.StartsWith('/'))
            return TryParseOriginForm(raw, ctx.Request.Headers.Host.ToString(), settings, out target, out error);
        if (settings.Sites.Count == 0 && CanonicalUrl.Is(raw))
        {
            // The key is the target as written (what Uri would build from it, byte for byte; tests compare the two).
            target = new RequestTarget(raw);
            error = "";
            return true;
        }
        if (raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return TryParseAbsolute(raw, settings, out target, out error);
        error = raw == "*" ? "'*' requests are not proxied" : $"the request target '{Truncate(raw)}' is not an http(s) URL";
        return false;
    }

    private static bool TryParseAbsolute(string raw, ProxySettings settings, out RequestTarget target, out string error)
    {
        target = null!;
        if (!Uri.TryCreate(raw, in RawPath, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            error = $"the request target '{Truncate(raw)}' is not a valid URL";
            return false;
        }
        if (uri.UserInfo.Length > 0)
        {
            error = "URLs with user information (user:password@) are not accepted";
            return false;
        }
        // An http URL naming a configured site goes to that site's upstream, as its origin-form requests do (Squid
        // accelerator and Varnish route by host whatever the request form): one key, one upstream, never the
        // name's DNS answer for a key the site's requests share.
        if (uri.Scheme == Uri.UriSchemeHttp && SiteOf(settings, uri.Authority, uri.Host) is not null)
        {
            int start = raw.IndexOfAny(['/', '?'], "http://".Length);
            var pathAndQuery = start < 0 ? "/" : raw[start] == '?' ? "/" + raw[start..] : raw[start..];
            return TryParseOriginForm(pathAndQuery, uri.Authority, settings, out target, out error);
        }
        var key = BuildKey(uri.Scheme, uri.Host, uri.IsDefaultPort ? -1 : uri.Port, uri.PathAndQuery);
        // Most clients already send the canonical form: reuse the raw string then.
        if (string.Equals(key, raw, StringComparison.Ordinal)) key = raw;
        target = new RequestTarget(uri, key, null);
        error = "";
        return true;
    }

    private static bool TryParseOriginForm(string raw, string host, ProxySettings settings, out RequestTarget target, out string error)
    {
        target = null!;
        if (host.Length == 0)
        {
            error = "an origin-form request needs a Host header";
            return false;
        }
        var bare = host.Split(':')[0];
        if (SiteOf(settings, host, bare) is not { } origin)
        {
            error = $"this is a proxy: send absolute URLs (GET http://host/path), or configure '{bare}' under Proxy:Sites for reverse-proxy mode";
            return false;
        }
        var basePath = origin.AbsolutePath.TrimEnd('/');
        var upstreamText = $"{origin.Scheme}://{origin.Authority}{basePath}{raw}";
        if (!Uri.TryCreate(upstreamText, in RawPath, out var upstream))
        {
            error = $"the request target '{Truncate(raw)}' is not a valid path";
            return false;
        }
        var key = BuildKey("http", host.ToLowerInvariant(), -1, raw);
        target = new RequestTarget(upstream, key, host);
        error = "";
        return true;
    }

    /// <summary>The configured site (Proxy:Sites) for a host as written (with its port), or its bare name.</summary>
    private static Uri? SiteOf(ProxySettings settings, string hostAndPort, string bareHost) =>
        settings.Sites.TryGetValue(hostAndPort, out var site) || settings.Sites.TryGetValue(bareHost, out site) ? site : null;

    /// <summary>The cache key of an absolute http(s) URL (e.g. a Location to invalidate).</summary>
    public static string KeyFor(Uri uri) => BuildKey(uri.Scheme, uri.Host, uri.IsDefaultPort ? -1 : uri.Port, uri.PathAndQuery);

    private static string BuildKey(string scheme, string host, int port, string pathAndQuery)
    {
        if (pathAndQuery.Length == 0) pathAndQuery = "/";
        var h = host.ToLowerInvariant();
        if (h.Contains(':') && !h.StartsWith('[')) h = $"[{h}]";
        return port < 0 ? $"{scheme.ToLowerInvariant()}://{h}{pathAndQuery}" : $"{scheme.ToLowerInvariant()}://{h}:{port}{pathAndQuery}";
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
