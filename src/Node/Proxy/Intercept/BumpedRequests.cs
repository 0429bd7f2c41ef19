using CacheCluster.Caching;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// The first middleware a decrypted request meets: its origin-form target (<c>GET /path</c>) becomes the absolute
/// <c>https://host/path</c> URL of the bumped tunnel, so everything after it (PAC, access rules, the cache key, the
/// upstream request, the access log) treats it as the forward-proxy request for that URL it is. A Host header naming
/// another host than the tunnel's is refused (421): the certificate the client accepted was for the tunnel's host.
/// </summary>
public static class BumpedRequests
{
    public static Func<HttpContext, RequestDelegate, Task> Middleware(NodeSettings settings) => (ctx, next) =>
    {
        if (!settings.Intercept.Enabled || BumpTarget.Of(ctx) is not { } target) return next(ctx);
        if (ctx.Features.Get<ProxyRequestInfo>() is { } info) info.Bumped = true;
        var feature = ctx.Features.Get<IHttpRequestFeature>()!;
        var raw = feature.RawTarget;
        if (!raw.StartsWith('/'))
            return ProxyErrors.WriteAsync(ctx, StatusCodes.Status400BadRequest,
                $"inside an intercepted tunnel to {target.Authority} requests are sent as paths (GET /path), not '{Shorten(raw)}'",
                CacheStatus.Local(settings.Proxy.CacheName, "bad-request"));
        var host = ctx.Request.Host;
        if (host.HasValue && !SameHost(host, target))
            return ProxyErrors.WriteAsync(ctx, StatusCodes.Status421MisdirectedRequest,
                $"this connection was intercepted for {target.Authority}; a request for {host.Value} needs a tunnel of its own",
                CacheStatus.Local(settings.Proxy.CacheName, "misdirected"));
        feature.RawTarget = $"https://{target.Authority}{raw}";
        return next(ctx);
    };

    private static bool SameHost(HostString host, BumpTarget target) =>
        string.Equals(host.Host.Trim('[', ']'), target.Host, StringComparison.OrdinalIgnoreCase) && (host.Port ?? 443) == target.Port;

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
