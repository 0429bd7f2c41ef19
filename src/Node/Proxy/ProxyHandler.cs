using System.Runtime.CompilerServices;
using CacheCluster.Caching;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Proxy.Steps;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// The path of one proxied request through the node, as a step machine: each step does one thing and names the
/// next (numbers as in docs/architecture.md, "A request's path"). Usually:
/// <code>
/// Receive → Purge                                                (PURGE: removed cluster-wide, never forwarded)
/// Receive → HotCopy ─────────────────────────────────────────────→ (hot copy served)
///         → LookUp → Hit | Encode | ServeStale                    → (served from the owner)
///                  → Expired → Miss → Follow                      → (another request's fill streamed)
///                                   → Fetch → Store → Deliver     → (fetched, stored when it may be)
///                                           → Revalidated | OriginFailed
/// Restart (from Expired or Follow, the entry changed under us) → HotCopy, at most ProxyRequest.RestartLimit times.
/// </code>
/// The step that answered is recorded on the request (<see cref="ProxyRequest.Answer"/>) and feeds Cache-Status,
/// the stats and the access log.
/// </summary>
public sealed class ProxyHandler(
    ReceiveStep receive,
    PurgeStep purge,
    HotCopyStep hotCopy,
    LookUpStep lookUp,
    HitStep hit,
    EncodeStep encode,
    ServeStaleStep serveStale,
    ExpiredStep expired,
    MissStep miss,
    FollowStep follow,
    FetchStep fetch,
    OriginFailedStep originFailed,
    RevalidatedStep revalidated,
    StoreStep store,
    DeliverStep deliver,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo)
{
    public async Task HandleAsync(HttpContext ctx)
    {
        var r = new ProxyRequest(ctx);
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    await RunStepsAsync(r);
                    break;
                }
                catch (Exception ex) when (attempt == 0 && !ctx.Response.HasStarted && ClusterFailure(ex) && r.Cacheable
                                           && !ctx.RequestAborted.IsCancellationRequested)
                {
                    // The cluster failed under a step that did not expect it (e.g. this node being declared dead and
                    // stopping, even inside the look-up): like an unreachable owner, the client is served from the
                    // origin, uncached — never a 500. Only GET/HEAD: safe to send again.
                    if (r.Fill is { Active: true } leading) await leading.AbortAsync();
                    r.ReleaseOrigin();
                    (r.Owner, r.Fill, r.Role, r.Reason, r.Step) = (null, null, null, ForwardReason.Bypass, Step.Fetch);
                }
            }
        }
        catch when (!ctx.Response.HasStarted)
        {
            r.Unanswered(); // the server answers 500 and counts it as an error
            throw;
        }
        finally
        {
            r.ReleaseOrigin();
            // Whatever happened, a fill this request leads must not be left open (followers would wait on it).
            if (r.Fill is { Active: true } fill) await fill.AbortAsync();
        }
    }

    /// <summary>
    /// A failure of the cluster itself (not of the origin or the request): Orleans' own exceptions, the transient ones,
    /// and anything at all while this node is no longer an active member (declared dead, stopping).
    /// </summary>
    private bool ClusterFailure(Exception ex) =>
        OwnerCalls.IsTransient(ex) || ex is OrleansException
        || membership.CurrentSnapshot.GetSiloStatus(localSilo.SiloAddress) != SiloStatus.Active;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // pooled: one box less per request that waits on the socket
    private async ValueTask RunStepsAsync(ProxyRequest r)
    {
        while (r.Step != Step.Done)
        {
            r.Step = r.Step switch
            {
                Step.Receive => await receive.RunAsync(r),
                Step.Purge => await purge.RunAsync(r),
                Step.HotCopy => await hotCopy.RunAsync(r),
                Step.LookUp => await lookUp.RunAsync(r),
                Step.Hit => await hit.RunAsync(r),
                Step.Encode => await encode.RunAsync(r),
                Step.ServeStale => await serveStale.RunAsync(r),
                Step.Expired => await expired.RunAsync(r),
                Step.Miss => await miss.RunAsync(r),
                Step.Follow => await follow.RunAsync(r),
                Step.Fetch => await fetch.RunAsync(r),
                Step.OriginFailed => await originFailed.RunAsync(r),
                Step.Revalidated => await revalidated.RunAsync(r),
                Step.Store => await store.RunAsync(r),
                Step.Deliver => await deliver.RunAsync(r),
                Step.Restart => RestartStep.Run(r),
                _ => throw new InvalidOperationException($"no step {r.Step}"),
            };
        }
    }
}
