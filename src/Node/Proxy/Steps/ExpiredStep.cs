using CacheCluster.Caching;
using CacheCluster.Node.ClusterClient;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 5a. The stored entry may not be served as it is (stale, or the request asks for a fresh one): a GET asks its
/// owner for the fill that replaces it (a revalidation when it has validators). If a fill that just ended has
/// refreshed or replaced the entry since our look-up, the request looks up again.
/// </summary>
public sealed class ExpiredStep
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var entry = r.Found!.Head!;
        r.Reason = r.RequestCc.NoCache || (r.PragmaNoCache && !r.RequestCc.Present) ? ForwardReason.Request : ForwardReason.Stale;
        r.Stale = entry;
        if (!r.MayFill) return Step.Miss;
        r.Role = await OwnerLookup.BeginFillAsync(r.Owner!, r.Target.CacheKey, entry.StoredAtUnixMs);
        if (r.Role is { EntryChanged: true })
        {
            if (r.CanRestart) return Step.Restart;
            r.Role = null; // changing too often: fetch for this client only
        }
        return Step.Miss;
    }
}
