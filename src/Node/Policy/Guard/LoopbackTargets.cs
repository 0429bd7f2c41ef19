using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy;

namespace CacheCluster.Node.Policy.Guard;

/// <summary>
/// With Guard:AllowLoopback=LocalClients, a client that is not on loopback asking for a loopback destination by
/// its literal address or a localhost name gets 403 before the cache is consulted, so it cannot read what a
/// local client fetched from the host's own services either. Names that resolve to loopback are refused by the
/// guard when the connection is made (and an upstream connection opened for a local client is never reused for
/// another: OriginClient keeps separate pools).
/// </summary>
public sealed class LoopbackTargets(NodeSettings settings)
{
    private readonly CacheCluster.Node.Policy.GuardSettings _guard = settings.Policy.Guard;
    private readonly string _cacheName = settings.Proxy.CacheName;

    public Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        if (_guard.Loopback == LoopbackAccess.All || ClientLocality.IsLocal) return next(ctx);
        var raw = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "";
        // Origin-form requests go to configured Proxy:Sites only: the operator chose those origins.
        if (raw.StartsWith('/')) return next(ctx);
        var (host, port) = CacheCluster.Node.Policy.RequestAdmission.Destination(ctx);
        if (!IsLoopbackTarget(host, out var address)) return next(ctx);
        foreach (var n in _guard.AllowNetworks) if (n.Contains(address)) return next(ctx);
        var why = _guard.Loopback == LoopbackAccess.None
            ? "loopback destinations are refused (Guard:AllowLoopback)"
            : "the proxy host's loopback is reachable only for clients on that host (Guard:AllowLoopback)";
        ctx.Response.OnStarting(() => { ctx.Response.Headers.Connection = "close"; return Task.CompletedTask; });
        return ProxyErrors.WriteAsync(ctx, StatusCodes.Status403Forbidden, $"the destination {host}:{port} is refused: {why}",
            CacheCluster.Caching.CacheStatus.Local(_cacheName, "destination-refused"), refused: RejectionReason.Guard);
    }

    /// <summary>A loopback or unspecified address literal, or localhost / *.localhost (RFC 6761 keeps those on the host).</summary>
    public static bool IsLoopbackTarget(string host, out IPAddress address)
    {
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        bare = bare.TrimEnd('.');
        if (IPAddress.TryParse(bare, out var parsed))
        {
            address = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
            return IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
        }
        address = IPAddress.Loopback;
        return bare.Equals("localhost", StringComparison.OrdinalIgnoreCase) || bare.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
