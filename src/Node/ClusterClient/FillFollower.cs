using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// A follower of a fill: a request collapsed onto another request's origin fetch (on any node). It waits for
/// what the leader publishes, then streams the leader's response from the owner as its chunks arrive
/// (cluster-wide single-flight). If the fill is lost mid-body the rest comes from the origin when it can,
/// else the connection is cut, so a partial body never looks whole.
/// </summary>
public sealed class FillFollower(StoredHead storedHead, UpstreamMessages upstream, RangeContinuation continuation, ProxyCounters counters,
    ILogger<FillFollower> logger)
{
    /// <summary>What the leader published: Stream, Pass, Error or Vary (an unreachable owner counts as Pass).</summary>
    public static async Task<FillOutcome> WaitAsync(ICacheEntryGrain owner, FillRole role)
    {
        try { return await owner.FollowAsync(role.FillId); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return FillOutcome.Pass; }
    }

    /// <summary>Age and remaining freshness of the leader's response as it is published.</summary>
    public static (TimeSpan Age, TimeSpan Ttl) AgeOf(EntryHead head)
    {
        var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(head.InitialAgeMs), DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs),
            DateTimeOffset.UtcNow);
        return (age, TimeSpan.FromMilliseconds(head.LifetimeMs) - age);
    }

    /// <summary>Streams the leader's response from the owner, chunk by chunk as they are appended.</summary>
    public async Task StreamAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, long fillId, EntryHead head, TimeSpan age,
        string cacheStatus)
    {
        storedHead.Write(ctx, head, age, cacheStatus);
        if (head.BodyLength >= 0) ctx.Response.ContentLength = head.BodyLength;
        if (HttpMethods.IsHead(ctx.Request.Method) || head.BodyLength == 0) return;

        var aborted = ctx.RequestAborted;
        var body = ctx.Response.BodyWriter;
        var next = owner.FollowChunkAsync(fillId, head.Generation, 0);
        long sent = 0;
        // The head now, not with the first chunk: a slow origin body must not leave followers without an answer.
        await body.FlushAsync(aborted);
        for (int i = 0; ; i++)
        {
            FollowChunk chunk;
            try { chunk = await next; }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { chunk = FollowChunk.Gone; }
            if (chunk.End) return;
            if (chunk.Data is null)
            {
                // The fill was lost (its leader or owner failed), or a chunk this follower lagged behind on was
                // evicted: finish from the origin when the length and a strong validator allow it, else cut.
                await body.FlushAsync(aborted);
                if (head.BodyLength > 0 && await continuation.TryFinishAsync(ctx, upstream.BuildBackground(ctx, target), head, sent))
                {
                    counters.BodyContinued();
                    return;
                }
                logger.LogInformation("The fill of {Key} was lost after {Chunks} chunks; follower connection aborted", head.CacheKey, i);
                counters.BodyAborted(BodyAbortCause.FillLost);
                ctx.Abort();
                return;
            }
            next = owner.FollowChunkAsync(fillId, head.Generation, i + 1);
            await body.WriteAsync(chunk.Data, aborted);
            sent += chunk.Data.Length;
        }
    }
}
