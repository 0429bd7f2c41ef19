using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>Two nodes in one cluster: the caching rules hold cluster-wide.</summary>
public sealed class TwoNodes : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public HttpClient A { get; private set; } = null!;
    public HttpClient B { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        Cluster = await LocalCluster.StartAsync(2, new Dictionary<string, string?> { ["Proxy:OriginTimeout"] = "10s" });
        A = ProxyClients.Via(Cluster.Nodes[0].ProxyUri);
        B = ProxyClients.Via(Cluster.Nodes[1].ProxyUri);
    }

    public async Task DisposeAsync()
    {
        A.Dispose();
        B.Dispose();
        await Cluster.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

public sealed class ClusterConformanceTests(TwoNodes nodes) : IClassFixture<TwoNodes>
{
    public static TheoryData<ConformanceCase> Cases() => new()
    {
        new ConformanceCase("cluster-hit-across-nodes", "RFC 9111 4", "a response stored through node A is a hit at node B",
            new Step { Node = 0, Origin = Fresh() },
            new Step { Node = 1, Expect = Expect.Cached, Body = "body-1" }),
        new ConformanceCase("cluster-invalidate-post-a-seen-at-b", "RFC 9111 4.4", "a POST through node A invalidates the entry node B serves",
            new Step { Node = 1, Origin = Fresh() },
            new Step { Node = 1, Expect = Expect.Cached },
            new Step { Node = 1, Expect = Expect.Cached },
            new Step { Node = 0, Method = "POST", RequestBody = "x", Origin = R() },
            new Step { Node = 1, Origin = Fresh(), Expect = Expect.NotCached, Body = "body-5" }),
        new ConformanceCase("cluster-invalidate-location", "RFC 9111 4.4", "a Location invalidated through node A is gone at node B",
            new Step { Node = 1, Target = "loc", Origin = Fresh() },
            new Step { Node = 0, Method = "PUT", RequestBody = "x", Origin = R(H("Location", "{base}-loc")) },
            new Step { Node = 1, Target = "loc", Origin = Fresh(), Expect = Expect.NotCached }),
        new ConformanceCase("cluster-304-refresh-seen-at-b", "RFC 9111 4.3.4", "a 304 refresh through node A updates what node B serves",
            new Step { Node = 0, Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"x\""), H("Test-Header", "A")), PauseAfterSeconds = 2.2 },
            new Step { Node = 0, Origin = new ScriptedResponse { NotModifiedIfConditional = true, Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"x\""), H("Test-Header", "B")] },
                Expect = Expect.EtagValidated, Headers = [("Test-Header", "B")] },
            new Step { Node = 1, Expect = Expect.Cached, Headers = [("Test-Header", "B")], Body = "body-1" }),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => CaseRunner.RunAsync(c, nodes.Origin, nodes.A, nodes.B);

    [Fact] // RFC 9111 4 (collapsed requests): concurrent misses on both nodes make one origin request
    public async Task Concurrent_misses_on_two_nodes_collapse_to_one_origin_request()
    {
        var path = nodes.Origin.Script("collapse-" + Guid.NewGuid().ToString("N")[..10],
            new ScriptedResponse { DelayMs = 1500, Body = "collapsed", Headers = [H("Cache-Control", "max-age=3600")] });
        var url = nodes.Origin.Url(path);
        var requests = Enumerable.Range(0, 10).Select(i => (i % 2 == 0 ? nodes.A : nodes.B).GetAsync(url)).ToArray();
        var responses = await Task.WhenAll(requests);
        foreach (var r in responses)
        {
            Assert.Equal(200, (int)r.StatusCode);
            Assert.Equal("collapsed", await r.Content.ReadAsStringAsync());
        }
        Assert.Equal(1, nodes.Origin.RequestCount(path));
        Assert.Contains(responses, r => (r.Header("Cache-Status") ?? "").Contains("collapsed"));
    }

    [Fact] // RFC 5861 3: two stale readers on two nodes start one background revalidation
    public async Task Stale_while_revalidate_revalidates_once_across_nodes()
    {
        var path = nodes.Origin.Script("swr-" + Guid.NewGuid().ToString("N")[..10],
            new ScriptedResponse { Headers = [H("Cache-Control", "max-age=1, stale-while-revalidate=600"), H("ETag", "\"s\"")] },
            new ScriptedResponse { DelayMs = 800, NotModifiedIfConditional = true, Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"s\"")] });
        var url = nodes.Origin.Url(path);
        (await nodes.A.GetAsync(url)).Dispose();
        await Task.Delay(2200);
        var stale = await Task.WhenAll(nodes.A.GetAsync(url), nodes.B.GetAsync(url), nodes.A.GetAsync(url), nodes.B.GetAsync(url));
        Assert.All(stale, r => Assert.Equal(200, (int)r.StatusCode));
        // The one background revalidation (800 ms at the origin) has finished well within this, even on a busy machine.
        await Task.Delay(3000);
        Assert.Equal(2, nodes.Origin.RequestCount(path));
        using var fresh = await nodes.B.GetAsync(url);
        Assert.Contains("hit", fresh.Header("Cache-Status"));
        Assert.Equal(2, nodes.Origin.RequestCount(path));
    }
}
