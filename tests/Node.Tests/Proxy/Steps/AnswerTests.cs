using CacheCluster.Caching;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Proxy.Steps;
using Microsoft.AspNetCore.Http;

namespace CacheCluster.Node.Tests.Proxy.Steps;

/// <summary>
/// Each way a request can be answered gives the Cache-Status value the request path always wrote
/// (src/Caching/CacheStatus.cs) and counts as what it is in the stats and the access log, from the same data.
/// </summary>
public class AnswerTests
{
    private const string N = "CacheCluster";
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    public static TheoryData<string, Answer, string, RequestOutcome> Cases => new()
    {
        { "fresh hit", new Answer(AnsweredBy.Hit, Ttl: Ttl), CacheStatus.Hit(N, Ttl), RequestOutcome.Hit },
        { "hot copy", new Answer(AnsweredBy.HotCopy, Ttl: Ttl), CacheStatus.Hit(N, Ttl), RequestOutcome.Hit },
        { "stale hit the request allowed (max-stale)", new Answer(AnsweredBy.Hit, Ttl: -Ttl), CacheStatus.Hit(N, -Ttl), RequestOutcome.Stale },
        { "stale-while-revalidate", new Answer(AnsweredBy.StaleWhileRevalidate, Ttl: -Ttl), CacheStatus.StaleHit(N, -Ttl), RequestOutcome.Stale },
        { "stale-if-error", new Answer(AnsweredBy.StaleOnError, FwdStatus: 503, Ttl: -Ttl), CacheStatus.StaleOnError(N, 503, -Ttl), RequestOutcome.Stale },
        { "revalidated by 304", new Answer(AnsweredBy.Revalidated, ForwardReason.Stale, 304, Ttl), CacheStatus.Forward(N, ForwardReason.Stale, 304, true, Ttl), RequestOutcome.Revalidated },
        { "collapsed follower", new Answer(AnsweredBy.Follower, ForwardReason.UriMiss, 200, Ttl), CacheStatus.Forward(N, ForwardReason.UriMiss, 200, false, Ttl) + "; collapsed", RequestOutcome.Collapsed },
        { "collapsed error", new Answer(AnsweredBy.FollowerError, ForwardReason.UriMiss), CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "collapsed-error") + "; collapsed", RequestOutcome.Collapsed },
        { "miss stored", new Answer(AnsweredBy.MissStored, ForwardReason.UriMiss, 200, Ttl), CacheStatus.Forward(N, ForwardReason.UriMiss, 200, true, Ttl), RequestOutcome.Miss },
        { "stale refetched", new Answer(AnsweredBy.MissStored, ForwardReason.Stale, 200, Ttl), CacheStatus.Forward(N, ForwardReason.Stale, 200, true, Ttl), RequestOutcome.Miss },
        { "not storable", new Answer(AnsweredBy.MissNotStored, ForwardReason.UriMiss, 200, Detail: "private"), CacheStatus.Forward(N, ForwardReason.UriMiss, 200, false, null, "private"), RequestOutcome.Pass },
        { "POST", new Answer(AnsweredBy.MissNotStored, ForwardReason.Method, 200), CacheStatus.Forward(N, ForwardReason.Method, 200, false, null), RequestOutcome.Pass },
        { "owner unreachable", new Answer(AnsweredBy.MissNotStored, ForwardReason.Bypass, 200), CacheStatus.Forward(N, ForwardReason.Bypass, 200, false, null), RequestOutcome.Pass },
        { "origin refused", new Answer(AnsweredBy.OriginError, ForwardReason.UriMiss, Detail: "origin-unreachable"), CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "origin-unreachable"), RequestOutcome.Error },
        { "origin 500 passed on", new Answer(AnsweredBy.MissNotStored, ForwardReason.UriMiss, 500, Detail: "status"), CacheStatus.Forward(N, ForwardReason.UriMiss, 500, false, null, "status"), RequestOutcome.Pass },
        { "revalidation raced", new Answer(AnsweredBy.RevalidationRaced, ForwardReason.Stale), CacheStatus.Forward(N, ForwardReason.Stale, 304, false, null, "revalidation-raced"), RequestOutcome.Pass },
        { "bad request", new Answer(AnsweredBy.BadRequest), CacheStatus.Local(N, "bad-request"), RequestOutcome.Error },
        { "PURGE carried out (Squid logs TCP_MISS)", new Answer(AnsweredBy.Purged, Detail: "purged"), CacheStatus.Local(N, "purged"), RequestOutcome.Pass },
        { "PURGE refused", new Answer(AnsweredBy.PurgeRefused, Detail: "purge-denied"), CacheStatus.Local(N, "purge-denied"), RequestOutcome.Denied },
        { "only-if-cached miss", new Answer(AnsweredBy.OnlyIfCached, ForwardReason.UriMiss), CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "only-if-cached"), RequestOutcome.Miss },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_answer_writes_its_cache_status_and_counts_as_what_it_is(string what, Answer answer, string cacheStatus, RequestOutcome expected)
    {
        Assert.Equal(cacheStatus, answer.CacheStatus(N));
        Assert.True(expected == answer.Outcome, $"{what}: {cacheStatus}");
    }

    [Theory]
    [InlineData("CONNECT port refused", 403, RequestOutcome.Denied)]
    [InlineData("proxy authentication required", 407, RequestOutcome.Denied)]
    [InlineData("rate limited", 429, RequestOutcome.Error)]
    [InlineData("forwarding loop", 508, RequestOutcome.Error)]
    public async Task A_refusal_written_outside_the_steps_records_its_outcome(string what, int status, RequestOutcome expected)
    {
        var ctx = new DefaultHttpContext();
        var info = new ProxyRequestInfo();
        ctx.Features.Set(info);
        ctx.Response.Body = new MemoryStream();
        await ProxyErrors.WriteAsync(ctx, status, what, CacheStatus.Local(N, "refused"));
        Assert.Equal(expected, info.Outcome);
        Assert.Equal(CacheStatus.Local(N, "refused"), ctx.Response.Headers["Cache-Status"].ToString());
    }

    [Fact]
    public void A_tunnel_without_cache_status_is_a_pass()
    {
        Assert.Equal(RequestOutcome.Pass, OutcomeClassifier.Unrecorded(200, tunnel: true));
        Assert.Equal("TCP_TUNNEL", CacheCluster.Node.Management.AccessLog.SquidCodes.Unrecorded(RequestOutcome.Pass, tunnel: true, 200));
    }
}
