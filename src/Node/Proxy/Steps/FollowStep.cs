using CacheCluster.Contracts.Entries;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 5c. Collapsed: another request (on any node) is already fetching this URL. Its response is streamed as it
/// arrives, its origin error repeated; when the URL turned out to vary, this request looks up its variant;
/// a response that may not be shared (Pass) makes this request fetch on its own, without storing.
/// </summary>
public sealed class FollowStep(FillFollower follower, StoredHead head)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var owner = r.Owner!;
        var role = r.Role!;
        var outcome = await FillFollower.WaitAsync(owner, role);
        switch (outcome.Kind)
        {
            case FillOutcomeKind.Stream when outcome.Head is { } published:
                var (age, ttl) = FillFollower.AgeOf(published);
                var cacheStatus = r.Answered(new Answer(AnsweredBy.Follower, r.Reason, published.Status, ttl), head.CacheName);
                await follower.StreamAsync(r.Context, r.Target, owner, role.FillId, published, age, cacheStatus);
                return Step.Done;
            case FillOutcomeKind.Error:
                await r.FailAsync(outcome.ErrorStatus, outcome.ErrorMessage ?? "the origin failed", new Answer(AnsweredBy.FollowerError, r.Reason),
                    head.CacheName);
                return Step.Done;
            case FillOutcomeKind.Vary when r.CanRestart:
                return Step.Restart; // find (or follow the fill of) this request's variant
        }
        r.Role = null; // not shareable: fetch on our own, without storing
        return Step.Fetch;
    }
}
