using CacheCluster.Caching;
using CacheCluster.Node.Observability;

namespace CacheCluster.Management.Tests;

/// <summary>The stats classification reads the Cache-Status values the request path really writes (src/Caching/CacheStatus.cs).</summary>
public class OutcomeTests
{
    private const string N = "CacheCluster";
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(60);

    public static TheoryData<string, int, string, RequestOutcome> Cases => new()
    {
        { "fresh hit", 200, CacheStatus.Hit(N, Ttl), RequestOutcome.Hit },
        { "stale-while-revalidate", 200, CacheStatus.StaleHit(N, -Ttl), RequestOutcome.Stale },
        { "stale-if-error", 200, CacheStatus.StaleOnError(N, 503, -Ttl), RequestOutcome.Stale },
        { "revalidated by 304", 200, CacheStatus.Forward(N, ForwardReason.Stale, 304, true, Ttl), RequestOutcome.Revalidated },
        { "collapsed follower", 200, CacheStatus.Forward(N, ForwardReason.UriMiss, 200, false, Ttl) + "; collapsed", RequestOutcome.Collapsed },
        { "collapsed error", 502, CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "collapsed-error") + "; collapsed", RequestOutcome.Collapsed },
        { "miss stored", 200, CacheStatus.Forward(N, ForwardReason.UriMiss, 200, true, Ttl), RequestOutcome.Miss },
        { "stale refetched", 200, CacheStatus.Forward(N, ForwardReason.Stale, 200, true, Ttl), RequestOutcome.Miss },
        { "not storable", 200, CacheStatus.Forward(N, ForwardReason.UriMiss, 200, false, null, "private"), RequestOutcome.Pass },
        { "POST", 200, CacheStatus.Forward(N, ForwardReason.Method, 200, false, null), RequestOutcome.Pass },
        { "owner unreachable", 200, CacheStatus.Forward(N, ForwardReason.Bypass, 200, false, null), RequestOutcome.Pass },
        { "origin refused", 502, CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "origin-unreachable"), RequestOutcome.Error },
        { "origin 500 passed on", 500, CacheStatus.Forward(N, ForwardReason.UriMiss, 500, false, null, "status"), RequestOutcome.Pass },
        { "bad request", 400, CacheStatus.Local(N, "bad-request"), RequestOutcome.Error },
        { "CONNECT port refused", 403, CacheStatus.Local(N, "connect-port"), RequestOutcome.Denied },
        { "only-if-cached miss", 504, CacheStatus.Forward(N, ForwardReason.UriMiss, null, false, null, "only-if-cached"), RequestOutcome.Miss },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_cache_status_counts_as_what_it_is(string what, int status, string cacheStatus, RequestOutcome expected)
    {
        Assert.True(expected == OutcomeClassifier.Classify(status, cacheStatus, tunnel: false), $"{what}: {cacheStatus}");
    }

    [Fact]
    public void A_tunnel_without_cache_status_is_a_pass()
    {
        Assert.Equal(RequestOutcome.Pass, OutcomeClassifier.Classify(200, null, tunnel: true));
        Assert.Equal("TCP_TUNNEL", OutcomeClassifier.SquidCode(RequestOutcome.Pass, tunnel: true, hotCopy: false));
    }
}
