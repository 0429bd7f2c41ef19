using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>A burst of requests for one missing URL reaches the origin once; everyone gets the same response.</summary>
public class SingleFlightTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    [Fact]
    public async Task Concurrent_misses_collapse_into_one_origin_request_and_all_get_the_body()
    {
        // 500 ms before the origin answers, then a body that dribbles in: everyone arrives during the fill.
        var path = NodeAndOrigin.Unique("/slow-body/600k?ms=10&delay=500");
        var url = env.Origin.Url(path);
        var expected = OriginContent.ExpectedSha256(path, 600 * 1024);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var r = await env.Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await r.Content.ReadAsStreamAsync();
            var (length, sha) = await OriginContent.Sha256Async(body);
            return (r.StatusCode, Status: r.CacheStatus(), length, sha);
        }));
        Assert.Equal(1, env.Origin.RequestCount(path));
        Assert.All(results, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(600 * 1024, r.length);
            Assert.Equal(expected, r.sha);
        });
        Assert.Contains(results, r => r.Status.Contains("collapsed"));
        Assert.Single(results, r => r.Status.Contains("stored"));
    }

    [Fact]
    public async Task A_failed_fetch_is_shared_by_its_waiters_and_not_cached()
    {
        // The origin answers after 5 s; the node gives up after 2 s (Proxy:OriginTimeout in the fixture).
        var path = NodeAndOrigin.Unique("/bytes/1k?delay=5000");
        var url = env.Origin.Url(path);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var r = await env.Client.GetAsync(url);
            return r.StatusCode;
        }));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.GatewayTimeout, s));
        Assert.Equal(1, env.Origin.RequestCount(path));

        using var again = await env.Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.GatewayTimeout, again.StatusCode);
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Uncacheable_responses_are_not_shared_between_collapsed_requests()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?delay=300&cc=private");
        var url = env.Origin.Url(path);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
        {
            using var r = await env.Client.GetAsync(url);
            Assert.DoesNotContain("collapsed", r.CacheStatus());
            return r.StatusCode;
        }));
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(5, env.Origin.RequestCount(path));
    }
}
