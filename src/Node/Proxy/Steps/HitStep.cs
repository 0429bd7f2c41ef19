using System.Runtime.CompilerServices;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 4. Hit: a fresh entry delivered from its owner (or just a 304 when the client's copy is current). The second
/// request for a key on this node keeps the body as a hot copy.
/// </summary>
public sealed class HitStep(HotEntries hot, StoredHead head, StoredBody body)
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: a hit that waits on the socket allocates no box
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var entry = r.Found!.Head!;
        var cacheStatus = r.Answered(new Answer(AnsweredBy.Hit, Ttl: r.Ttl), head.CacheName);
        if (StoredHead.ClientHasFreshCopy(ctx, entry))
        {
            head.WriteNotModified(ctx, entry, r.Age, cacheStatus);
            return Step.Done;
        }
        bool keep = r.HotNode is not null && hot.Fits(entry);
        var chunks = await body.DeliverAsync(ctx, r.Target, r.Owner!, entry, r.Found, r.Age, cacheStatus, keep);
        if (chunks is not null) hot.Add(r.Target.CacheKey, entry, chunks, r.Ttl, r.LookupStarted);
        return Step.Done;
    }
}
