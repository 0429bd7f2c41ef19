using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Policy.Runtime;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 5b. Nothing usable is stored. only-if-cached is answered 504 here; a request the owner made a follower
/// follows the fill under way; the leader of a fill fetches and stores; anyone else fetches without storing.
/// </summary>
public sealed class MissStep(RuntimePolicy policy, Responses.StoredHead head)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        if (r.RequestCc.OnlyIfCached)
        {
            await r.FailAsync(StatusCodes.Status504GatewayTimeout, "only-if-cached was requested and the response is not in the cache",
                new Answer(AnsweredBy.OnlyIfCached, r.Reason), head.CacheName);
            return Step.Done;
        }
        if (r.Role is not { } role || r.Owner is null) return Step.Fetch;
        if (!role.IsLeader) return Step.Follow;
        r.Fill = new FillLeader(r.Owner, role, policy.Freshness.MaxObjectBytes);
        return Step.Fetch;
    }
}
