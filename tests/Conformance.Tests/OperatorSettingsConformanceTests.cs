using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>A node with operator settings: serve stale on error by default, a custom targeted field, a refresh rule.</summary>
public sealed class OperatorNode : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:OriginTimeout"] = "10s",
            ["Cache:ServeStaleOnErrorFor"] = "10m",
            ["Cache:TargetedField"] = "Example-Cache-Control, CDN-Cache-Control",
            ["Cache:RefreshRules:0"] = @"/ruled- 1 0% 1",
        });
        Client = ProxyClients.Via(Node.ProxyUri);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

public sealed class OperatorSettingsConformanceTests(OperatorNode host) : IClassFixture<OperatorNode>
{
    public static TheoryData<ConformanceCase> Cases() => new()
    {
        new ConformanceCase("operator-stale-on-error", "RFC 9111 4.2.4 / RFC 5861 4", "Cache:ServeStaleOnErrorFor serves a stale entry when the origin fails",
            new Step { Origin = R(H("Cache-Control", "max-age=1")), PauseAfterSeconds = 2.2 },
            new Step { Origin = R(503), Expect = Expect.NotCached, Status = 200, Body = "body-1", Check = r => (r.Header("Cache-Status") ?? "").Contains("fwd=stale") ? null : "Cache-Status does not say fwd=stale" }),
        new ConformanceCase("operator-stale-on-error-not-must-revalidate", "RFC 9111 5.2.2.2", "the operator default never overrides must-revalidate",
            new Step { Origin = R(H("Cache-Control", "max-age=1, must-revalidate")), PauseAfterSeconds = 2.2 },
            new Step { Origin = R(503), Expect = Expect.NotCached, Status = 503 }),
        new ConformanceCase("targeted-field-configured", "RFC 9213 2.1", "the configured targeted field wins over CDN-Cache-Control and Cache-Control",
            new Step { Origin = R(H("Cache-Control", "no-store"), H("CDN-Cache-Control", "no-store"), H("Example-Cache-Control", "max-age=3600")) },
            new Step { Expect = Expect.Cached }),
        new ConformanceCase("targeted-field-fallback", "RFC 9213 2.1", "the next field in the target list applies when the first is absent",
            new Step { Origin = R(H("Cache-Control", "no-store"), H("CDN-Cache-Control", "max-age=3600")) },
            new Step { Expect = Expect.Cached }),
        new ConformanceCase("refresh-rule-heuristic", "RFC 9111 4.2.2", "an operator rule gives a heuristic lifetime to a matching URL without validators",
            new Step { Query = "x", Origin = R(D("Date", 0)) },
            new Step { Query = "x", Expect = Expect.Cached }),
        new ConformanceCase("refresh-rule-never-over-no-store", "RFC 9111 5.2.2.5", "an operator rule does not override no-store unless it says so",
            new Step { Query = "x", Origin = R(H("Cache-Control", "no-store")) },
            new Step { Query = "x", Origin = R(H("Cache-Control", "no-store")), Expect = Expect.NotCached }),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => CaseRunner.RunAsync(c.Id.StartsWith("refresh-rule") ? c with { Id = "ruled-" + c.Id } : c, host.Origin, host.Client);

    [Fact] // RFC 5861 4: stale-if-error also covers an origin that cannot be reached at all
    public async Task Stale_if_error_when_the_origin_is_unreachable()
    {
        await using var gone = await OriginServer.StartAsync();
        var path = gone.Script("unreachable", new ScriptedResponse { Body = "kept", Headers = [H("Cache-Control", "max-age=1, stale-if-error=600")] });
        var url = gone.Url(path);
        using (var first = await host.Client.GetAsync(url)) Assert.Equal("kept", await first.Content.ReadAsStringAsync());
        await gone.DisposeAsync();
        await Task.Delay(2200);
        using var stale = await host.Client.GetAsync(url);
        Assert.Equal(200, (int)stale.StatusCode);
        Assert.Equal("kept", await stale.Content.ReadAsStringAsync());
        Assert.Contains("stale", stale.Header("Cache-Status"));
    }

    [Fact] // RFC 9111 5.2.2.2: a must-revalidate entry is never reused stale; the disconnected cache answers 504
    public async Task Must_revalidate_with_the_origin_unreachable_is_a_504_not_the_stale_entry()
    {
        await using var gone = await OriginServer.StartAsync();
        var path = gone.Script("unreachable-mr", new ScriptedResponse { Body = "old", Headers = [H("Cache-Control", "max-age=1, must-revalidate"), H("ETag", "\"m\"")] });
        var url = gone.Url(path);
        using (var first = await host.Client.GetAsync(url)) Assert.Equal("old", await first.Content.ReadAsStringAsync());
        await gone.DisposeAsync();
        await Task.Delay(2200);
        using var r = await host.Client.GetAsync(url);
        Assert.Equal(504, (int)r.StatusCode);
        Assert.DoesNotContain("old", await r.Content.ReadAsStringAsync());
    }
}
