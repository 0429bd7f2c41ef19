using System.Runtime.CompilerServices;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Compression;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 3a. This node's hot copy of a popular entry (of the request's variant, if the URL varies), if fresh enough:
/// served from memory with no owner round trip. Anything else goes on to the owner.
/// </summary>
public sealed class HotCopyStep(HotEntries hot, RuntimePolicy policy, StoredHead head, StoredBody body, CompressionPolicy compression)
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: a hit that waits on the socket allocates no box
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var key = r.Target.CacheKey;
        if (!hot.Enabled || !hot.TryGet(key, out var entry)) return Step.LookUp;
        if (VaryMarker.Is(entry.Head) && !hot.TryGet(VariantPlacement.VariantKeyFor(ctx, key, entry.Head), out entry)) return Step.LookUp;
        var h = entry.Head;
        if (HitDecision.Evaluate(EntryHeads.FactsOf(h), DateTimeOffset.FromUnixTimeMilliseconds(h.ResponseTimeUnixMs), r.RequestCc,
                r.PragmaNoCache, DateTimeOffset.UtcNow, policy.Freshness, out var age, out var ttl) == HitVerdict.Stale)
            return Step.LookUp;

        head.AddDebugHeaders(ctx, "hot-copy");
        r.AnsweredFrom("hot-copy"); // access log
        if ((r.Coding = compression.CodingFor(ctx.Request, r.RequestCc, h)) is not null)
        {
            (r.HotIdentity, r.Age, r.Ttl) = (entry, age, ttl);
            return Step.Encode;
        }
        var cacheStatus = r.Answered(new Answer(AnsweredBy.HotCopy, Ttl: ttl), head.CacheName);
        if (StoredHead.ClientHasFreshCopy(ctx, h)) head.WriteNotModified(ctx, h, age, cacheStatus);
        else await body.DeliverHotAsync(ctx, entry, age, cacheStatus);
        return Step.Done;
    }
}
