using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// Reverse-proxy sites and absolute URLs for the same name: one cache key must never mix two upstreams. The
/// site shop.test is configured to the real origin; the name also resolves (hosts file) to loopback, where an
/// attacker's server listens on the port the requests name.
/// </summary>
public sealed class SiteAndAttacker : IAsyncLifetime
{
    public OriginServer Origin { get; private set; } = null!;
    public RawOrigin Attacker { get; private set; } = null!;
    public TestNode Node { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync(new OriginOptions());
        Attacker = RawOrigin.Always("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\nevil");
        var hosts = Path.Combine(TempDir.Create("hosts"), "hosts");
        await File.WriteAllTextAsync(hosts, "127.0.0.1 shop.test\n");
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:Sites:shop.test"] = Origin.HttpBase.ToString(),
            ["Resolver:HostsFile"] = hosts,
        });
        Client = Node.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
        await Attacker.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

public class RequestTargetTests(SiteAndAttacker env) : IClassFixture<SiteAndAttacker>
{
    [Fact]
    public async Task An_absolute_url_for_a_configured_site_goes_to_the_sites_upstream_and_cannot_poison_its_key()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k") + "&cc=max-age%3D600";
        var authority = $"shop.test:{env.Attacker.Port}";
        // The attacker asks through the proxy with an absolute URL (resolved by DNS, it would reach the attacker's server).
        using (var attacker = await env.Client.GetAsync($"http://{authority}{path}"))
            Assert.Equal(OriginContent.Expected(path), await attacker.Content.ReadAsByteArrayAsync());
        // The victim uses the site the ordinary way: origin form with Host.
        var (status, text) = await RawHttp.SendAsync(env.Node.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        Assert.Equal(200, status);
        Assert.DoesNotContain("evil", text);
        Assert.Contains("hit", text); // one key, one upstream: the second form is served what the first stored
        Assert.Equal(0, env.Attacker.Requests);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task An_absolute_url_for_a_configured_site_keeps_its_query_without_a_path()
    {
        using var r = await env.Client.GetAsync($"http://shop.test:{env.Attacker.Port}?x=1");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(0, env.Attacker.Requests);
        Assert.Equal(1, env.Origin.RequestCount("/?x=1"));
    }
}
