using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 6′. The origin could not be reached or did not answer in time: a stale entry may stand in (stale-if-error);
/// otherwise the client gets 502/504 with a sentence saying what happened, and so do the requests collapsed
/// onto this fetch. Nothing is cached: the next request tries again.
/// </summary>
public sealed class OriginFailedStep(StaleOnError staleOnError, StoredHead head)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var (status, message) = r.OriginError;
        if (await staleOnError.TryServeAsync(r, status)) return Step.Done;
        if (r.Fill is not null) await r.Fill.PublishAsync(new FillOutcome(FillOutcomeKind.Error, ErrorStatus: status, ErrorMessage: message));
        await r.FailAsync(status, message, new Answer(AnsweredBy.OriginError, r.Reason, Detail: status == 504 ? "origin-timeout" : "origin-unreachable"),
            head.CacheName);
        return Step.Done;
    }
}
