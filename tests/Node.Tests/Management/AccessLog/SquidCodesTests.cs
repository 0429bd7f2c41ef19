using CacheCluster.Caching;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy.Steps;

namespace CacheCluster.Node.Tests.Management.AccessLog;

/// <summary>Each way a request is answered gets the result code Squid 5–6 writes for the same case.</summary>
public class SquidCodesTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    public static TheoryData<string, Answer, string> Cases => new()
    {
        { "fresh hit", new Answer(AnsweredBy.Hit, Ttl: Ttl), "TCP_HIT" },
        { "hot copy (this node's memory)", new Answer(AnsweredBy.HotCopy, Ttl: Ttl), "TCP_MEM_HIT" },
        { "stale-while-revalidate (Squid has none: a hit)", new Answer(AnsweredBy.StaleWhileRevalidate, Ttl: -Ttl), "TCP_HIT" },
        { "stale-if-error", new Answer(AnsweredBy.StaleOnError, FwdStatus: 503, Ttl: -Ttl), "TCP_REFRESH_FAIL_OLD" },
        { "revalidated by 304", new Answer(AnsweredBy.Revalidated, ForwardReason.Stale, 304, Ttl), "TCP_REFRESH_UNMODIFIED" },
        { "stale refetched, changed", new Answer(AnsweredBy.MissStored, ForwardReason.Stale, 200, Ttl), "TCP_REFRESH_MODIFIED" },
        { "client reload", new Answer(AnsweredBy.MissStored, ForwardReason.Request, 200, Ttl), "TCP_CLIENT_REFRESH_MISS" },
        { "collapsed follower", new Answer(AnsweredBy.Follower, ForwardReason.UriMiss, 200, Ttl), "TCP_CF_MISS" },
        { "miss stored", new Answer(AnsweredBy.MissStored, ForwardReason.UriMiss, 200, Ttl), "TCP_MISS" },
        { "POST", new Answer(AnsweredBy.MissNotStored, ForwardReason.Method, 200), "TCP_MISS" },
        { "origin unreachable (TCP_MISS/502)", new Answer(AnsweredBy.OriginError, ForwardReason.UriMiss, Detail: "origin-unreachable"), "TCP_MISS" },
        { "only-if-cached miss (TCP_MISS/504)", new Answer(AnsweredBy.OnlyIfCached, ForwardReason.UriMiss), "TCP_MISS" },
        { "bad request", new Answer(AnsweredBy.BadRequest), "NONE_NONE" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_answer_has_Squids_result_code(string what, Answer answer, string code) =>
        Assert.True(code == SquidCodes.Of(answer), $"{what}: {SquidCodes.Of(answer)}, Squid writes {code}");

    [Theory]
    [InlineData(RequestOutcome.Denied, false, 403, "TCP_DENIED")]
    [InlineData(RequestOutcome.Denied, true, 403, "TCP_DENIED")] // CONNECT to a port not allowed
    [InlineData(RequestOutcome.Pass, true, 200, "TCP_TUNNEL")]
    [InlineData(RequestOutcome.Error, true, 502, "NONE_NONE")] // a tunnel that could not be set up
    [InlineData(RequestOutcome.Error, false, 429, "NONE_NONE")] // refused before any fetch
    public void Refusals_and_tunnels(RequestOutcome outcome, bool tunnel, int status, string code) =>
        Assert.Equal(code, SquidCodes.Unrecorded(outcome, tunnel, status));

    [Theory]
    [InlineData(UpstreamHop.None, "HIER_NONE")]
    [InlineData(UpstreamHop.Direct, "HIER_DIRECT")]
    [InlineData(UpstreamHop.FirstUpParent, "FIRSTUP_PARENT")]
    [InlineData(UpstreamHop.Carp, "CARP")]
    public void Hierarchy_codes(UpstreamHop hop, string code) => Assert.Equal(code, SquidCodes.Hierarchy(hop));
}
