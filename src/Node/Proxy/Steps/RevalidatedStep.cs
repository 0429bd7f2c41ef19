using CacheCluster.Caching;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 6″. Revalidated: the origin answered our validators with a 304, so the stored body is still good. The fill
/// refreshes the stored head (RFC 9111 4.3.4) and the refreshed entry is served. If the entry changed while we
/// revalidated it, this 304 answered our validators, not the client's: the client is told to retry.
/// </summary>
public sealed class RevalidatedStep(RuntimePolicy policy, StoredHead head, StoredBody body)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var refreshed = EntryHeads.Refreshed(r.Stale!, r.ResponseHeaders, r.RequestTime, r.ResponseTime, policy.Freshness);
        if (r.Fill is not null && await r.Fill.RefreshAsync(refreshed))
        {
            var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(refreshed.InitialAgeMs), r.ResponseTime, DateTimeOffset.UtcNow);
            var ttl = TimeSpan.FromMilliseconds(refreshed.LifetimeMs) - age;
            var cacheStatus = r.Answered(new Answer(AnsweredBy.Revalidated, r.Reason, 304, ttl), head.CacheName);
            if (StoredHead.ClientHasFreshCopy(ctx, refreshed)) head.WriteNotModified(ctx, refreshed, age, cacheStatus);
            else await body.DeliverStoredAsync(ctx, r.Target, r.Owner!, refreshed, age, cacheStatus);
            return Step.Done;
        }
        await r.FailAsync(StatusCodes.Status503ServiceUnavailable, "the cached entry changed while it was being revalidated; please retry",
            new Answer(AnsweredBy.RevalidationRaced, r.Reason), head.CacheName);
        return Step.Done;
    }
}
