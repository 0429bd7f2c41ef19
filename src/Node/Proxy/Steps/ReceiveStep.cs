using CacheCluster.Caching;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 1. Receive: what is asked for. CONNECT goes to the tunnel, PURGE to the purge step; a target that cannot be understood is refused;
/// otherwise the upstream URL and cache key, the request's Cache-Control and what the cache may do with it.
/// (2. Policy was checked before this handler runs: src/Node/Policy/RequestAdmission.cs.)
/// </summary>
public sealed class ReceiveStep(NodeSettings settings, ConnectTunnel tunnel)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var method = ctx.Request.Method;
        if (HttpMethods.IsConnect(method))
        {
            await tunnel.HandleAsync(ctx);
            return Step.Done;
        }
        if (PurgeStep.IsPurge(method)) return Step.Purge;
        if (!RequestTarget.TryParse(ctx, settings.Proxy, out var target, out var error))
        {
            await r.FailAsync(StatusCodes.Status400BadRequest, error, new Answer(AnsweredBy.BadRequest), settings.Proxy.CacheName);
            return Step.Done;
        }
        r.UrlTarget = r.Target = target;
        var requestCc = ctx.Request.Headers.CacheControl.Count == 0
            ? CacheControl.Empty
            : CacheControl.Parse((IEnumerable<string?>)ctx.Request.Headers.CacheControl);
        r.RequestCc = requestCc;
        r.PragmaNoCache = IsPragmaNoCache(ctx);
        // Only GET and HEAD can be answered from the cache; only a GET may fill it (and so lead or follow a fill).
        r.Cacheable = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        r.MayFill = HttpMethods.IsGet(method) && !requestCc.NoStore && !requestCc.OnlyIfCached;
        return r.Cacheable ? Step.HotCopy : Step.Fetch;
    }

    private static bool IsPragmaNoCache(HttpContext ctx)
    {
        foreach (var v in ctx.Request.Headers.Pragma)
            if (v is not null && v.Contains("no-cache", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
