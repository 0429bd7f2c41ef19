using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 4′. stale-while-revalidate (RFC 5861 3): the stale entry is served now and revalidated in the background
/// (<see cref="BackgroundRevalidation"/>), so this client does not wait for the origin.
/// </summary>
public sealed class ServeStaleStep(UpstreamMessages upstream, BackgroundRevalidation revalidation, StoredHead head, StoredBody body)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var entry = r.Found!.Head!;
        // Built now: the client's request headers go when it ends.
        revalidation.Start(upstream.BuildBackground(ctx, r.Target), r.Target.CacheKey, r.Owner!, entry, r.Varies);
        var cacheStatus = r.Answered(new Answer(AnsweredBy.StaleWhileRevalidate, Ttl: r.Ttl), head.CacheName);
        if (StoredHead.ClientHasFreshCopy(ctx, entry)) head.WriteNotModified(ctx, entry, r.Age, cacheStatus);
        else await body.DeliverAsync(ctx, r.Target, r.Owner!, entry, r.Found, r.Age, cacheStatus, keep: false);
        return Step.Done;
    }
}
