using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// stale-if-error (RFC 5861 4, RFC 9111 4.2.4): when the origin fails (unreachable, or a 5xx), the stale entry
/// stands in if the entry, the request and the operator's default allow it. Used by <see cref="FetchStep"/> and
/// <see cref="OriginFailedStep"/>.
/// </summary>
public sealed class StaleOnError(RuntimePolicy policy, StoredHead head, StoredBody body, ILogger<StaleOnError> logger)
{
    public async Task<bool> TryServeAsync(ProxyRequest r, int errorStatus)
    {
        var ctx = r.Context;
        if (r.Stale is not { } stale || r.Owner is not { } owner || ctx.Response.HasStarted) return false;
        var now = DateTimeOffset.UtcNow;
        var responseTime = DateTimeOffset.FromUnixTimeMilliseconds(stale.ResponseTimeUnixMs);
        if (!HitDecision.CanServeOnError(EntryHeads.FactsOf(stale), responseTime, r.RequestCc, r.PragmaNoCache, policy.Freshness, now, out _)) return false;
        // Followers try on their own (and may serve stale themselves); nothing new is stored.
        if (r.Fill is not null) await r.Fill.PublishAsync(FillOutcome.Pass);
        var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(stale.InitialAgeMs), responseTime, now);
        var ttl = TimeSpan.FromMilliseconds(stale.LifetimeMs) - age;
        logger.LogInformation("Origin failed with {Status} for {Key}; serving the stale entry ({Seconds} s stale)", errorStatus, stale.CacheKey, (long)-ttl.TotalSeconds);
        var cacheStatus = r.Answered(new Answer(AnsweredBy.StaleOnError, FwdStatus: errorStatus, Ttl: ttl), head.CacheName);
        await body.DeliverStoredAsync(ctx, r.Target, owner, stale, age, cacheStatus);
        return true;
    }
}
