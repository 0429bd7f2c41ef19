using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Upstream;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Proxy.Upstream;

/// <summary>
/// Two sites on loopback, each its own cluster: the child site sends its misses to the parent site
/// (Upstream:Parents), as Squid's cache_peer parent does.
/// </summary>
public class ParentPeeringTests
{
    private static Dictionary<string, string?> Site(string name, Dictionary<string, string?>? more = null)
    {
        var s = new Dictionary<string, string?>
        {
            ["Proxy:ViaName"] = name,
            ["Proxy:CacheName"] = name,
            ["Proxy:ConnectTimeout"] = "2s",
        };
        foreach (var (k, v) in more ?? []) s[k] = v;
        return s;
    }

    private static async Task<string[]> ReadLinesAsync(string path, int count)
    {
        string[] lines = [];
        for (int i = 0; i < 100 && lines.Length < count; i++)
        {
            await Task.Delay(50);
            if (File.Exists(path))
                using (var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                    lines = new StreamReader(f).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        Assert.True(lines.Length >= count, $"{path}: {lines.Length} of {count} lines");
        return lines;
    }

    [Fact]
    public async Task A_miss_at_the_child_site_is_fetched_through_the_parent_and_is_a_parent_hit_the_second_time()
    {
        await using var origin = await OriginServer.StartAsync(new OriginOptions());
        await using var parent = await LocalCluster.StartAsync(1, Site("parent-site"));
        var accessLog = Path.Combine(TempDir.Create("parent-accesslog"), "access.log");
        // The child stores nothing over 1 KiB, so its second request is a miss again and shows the parent's cache.
        await using var child = await LocalCluster.StartAsync(1, Site("child-site", new()
        {
            ["Upstream:Parents"] = $"127.0.0.1:{parent.Nodes[0].ProxyPort}",
            ["Cache:MaxObjectSize"] = "1KiB",
            ["AccessLog:Path"] = accessLog,
        }));
        using var client = child.Nodes[0].CreateClient();
        var path = NodeAndOrigin.Unique("/bytes/4k?cc=max-age%3D600");

        using (var first = await client.GetAsync(origin.Url(path)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(OriginContent.Expected(path), await first.Content.ReadAsByteArrayAsync());
            var status = first.CacheStatus();
            Assert.Contains("parent-site; fwd=uri-miss", status);
            Assert.Contains("child-site; fwd=uri-miss", status);
        }
        // The origin saw the request through both sites: our own Via token went to the parent.
        var seen = origin.RequestsFor(path).Single();
        var via = string.Join(", ", seen.Headers["Via"]);
        Assert.Contains("child-site", via);
        Assert.Contains("parent-site", via);

        using (var second = await client.GetAsync(origin.Url(path)))
        {
            Assert.Equal(OriginContent.Expected(path), await second.Content.ReadAsByteArrayAsync());
            Assert.Contains("parent-site; hit", second.CacheStatus());
            Assert.Contains("child-site; fwd=uri-miss", second.CacheStatus());
        }
        Assert.Equal(1, origin.RequestCount(path));

        // The child's access log says, as Squid's does, that both came through its (single) parent, by address.
        var lines = await ReadLinesAsync(accessLog, 2);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal(["TCP_MISS/200", "FIRSTUP_PARENT/127.0.0.1"],
            l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is var f ? new[] { f[3], f[8] } : null));
    }

    [Fact]
    public async Task Urls_hashed_to_a_dead_parent_fail_over_to_the_next_parent_and_then_direct()
    {
        await using var origin = await OriginServer.StartAsync(new OriginOptions());
        var parent = await LocalCluster.StartAsync(1, Site("parent-site"));
        try
        {
            using var refusing = Ports.Refusing();
            var dead = refusing.ToString();
            var accessLog = Path.Combine(TempDir.Create("carp-accesslog"), "access.log");
            var live = $"127.0.0.1:{parent.Nodes[0].ProxyPort}";
            await using var child = await LocalCluster.StartAsync(1, Site("child-site", new()
            {
                ["Upstream:Parents"] = $"{dead},{live}",
                ["Upstream:HealthCheckInterval"] = "500ms",
                ["AccessLog:Path"] = accessLog,
                ["AccessLog:StripQuery"] = "false", // the URLs differ by their query
            }));
            using var client = child.Nodes[0].CreateClient();

            // URLs whose first choice is the dead parent still arrive, through the live one.
            var parents = new[] { new ParentProxy(dead, "127.0.0.1", 0), new ParentProxy(live, "127.0.0.1", 0) };
            var paths = Enumerable.Range(0, 40).Select(i => NodeAndOrigin.Unique($"/bytes/1k?cc=max-age%3D600&n={i}")).ToList();
            var deadFirst = paths.Where(p => ParentRanking.Rank(parents, origin.Url(p).ToString())[0] == 0).Take(3).ToList();
            Assert.NotEmpty(deadFirst);
            foreach (var path in deadFirst)
            {
                using var r = await client.GetAsync(origin.Url(path));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Contains("parent-site", r.CacheStatus());
            }
            var liveFirst = paths.First(p => ParentRanking.Rank(parents, origin.Url(p).ToString())[0] == 1);
            using (var r = await client.GetAsync(origin.Url(liveFirst))) Assert.Equal(HttpStatusCode.OK, r.StatusCode);

            // The parent site goes away: the child goes direct to the origin.
            await parent.DisposeAsync();
            var after = NodeAndOrigin.Unique("/bytes/1k?cc=max-age%3D600");
            using (var r = await client.GetAsync(origin.Url(after)))
            {
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal(OriginContent.Expected(after), await r.Content.ReadAsByteArrayAsync());
                Assert.DoesNotContain("parent-site", r.CacheStatus());
                Assert.Contains("child-site; fwd=uri-miss", r.CacheStatus());
            }
            Assert.Equal(1, origin.RequestCount(after));

            // Squid's hierarchy codes in the child's access log: the next parent up after the chosen one failed is
            // FIRSTUP_PARENT, the hash's own choice CARP, the origin itself HIER_DIRECT; each with the address.
            var lines = await ReadLinesAsync(accessLog, deadFirst.Count + 2);
            string Hier(string p) => lines.Single(l => l.Contains($" {origin.Url(p).AbsoluteUri} ")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[8];
            Assert.All(deadFirst, p => Assert.Equal("FIRSTUP_PARENT/127.0.0.1", Hier(p)));
            Assert.Equal("CARP/127.0.0.1", Hier(liveFirst));
            Assert.Equal("HIER_DIRECT/127.0.0.1", Hier(after));
        }
        finally
        {
            await parent.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_direct_fallback_a_dead_parent_is_a_502_naming_the_parent()
    {
        await using var origin = await OriginServer.StartAsync(new OriginOptions());
        using var refusing = Ports.Refusing();
        var dead = refusing.ToString();
        await using var child = await TestNode.StartAsync(settings: Site("child-site", new()
        {
            ["Upstream:Parents"] = dead,
            ["Upstream:DirectFallback"] = "false",
        }));
        using var client = child.CreateClient();
        using var r = await client.GetAsync(origin.Url("/bytes/1k"));
        Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode);
        Assert.Contains($"no parent proxy could be reached ({dead}", await r.Content.ReadAsStringAsync());
        Assert.Equal(0, origin.RequestCount("/bytes/1k"));
    }

    [Fact]
    public async Task Always_direct_domains_bypass_the_parent()
    {
        await using var origin = await OriginServer.StartAsync(new OriginOptions());
        await using var parent = await TestNode.StartAsync(settings: Site("parent-site"));
        await using var child = await TestNode.StartAsync(settings: Site("child-site", new()
        {
            ["Upstream:Parents"] = $"127.0.0.1:{parent.ProxyPort}",
            ["Upstream:AlwaysDirect"] = "localhost",
        }));
        using var client = child.CreateClient();
        var path = NodeAndOrigin.Unique("/bytes/1k?cc=max-age%3D600");
        using (var direct = await client.GetAsync($"http://localhost:{origin.HttpBase.Port}{path}"))
        {
            Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
            Assert.DoesNotContain("parent-site", direct.CacheStatus());
        }
        using (var viaParent = await client.GetAsync(origin.Url(NodeAndOrigin.Unique("/bytes/1k"))))
            Assert.Contains("parent-site", viaParent.CacheStatus());
    }

    [Fact]
    public void Removing_a_parent_only_moves_the_urls_it_had()
    {
        var three = new[] { new ParentProxy("a:3128", "a", 3128), new ParentProxy("b:3128", "b", 3128), new ParentProxy("c:3128", "c", 3128) };
        var two = new[] { three[0], three[2] };
        var urls = Enumerable.Range(0, 3000).Select(i => $"http://example.org/object/{i}").ToList();
        var before = urls.Select(u => three[ParentRanking.Rank(three, u)[0]].Name).ToList();
        var after = urls.Select(u => two[ParentRanking.Rank(two, u)[0]].Name).ToList();
        for (int i = 0; i < urls.Count; i++)
            if (before[i] != "b:3128") Assert.Equal(before[i], after[i]);
        // Roughly even spread (each parent gets its share within a wide margin).
        foreach (var p in three) Assert.InRange(before.Count(n => n == p.Name), 700, 1300);
    }

    [Theory]
    [InlineData("Upstream:Parents", "parent.example", "Upstream:Parents: 'parent.example' is not host:port")]
    [InlineData("Upstream:Parents", "a.example:3128,a.example:3128", "Upstream:Parents: 'a.example:3128' is listed twice")]
    [InlineData("Upstream:AlwaysDirect", "bad domain", "Upstream:AlwaysDirect: 'bad domain' is neither a domain nor a network")]
    [InlineData("Upstream:HealthCheckInterval", "0s", "Upstream:HealthCheckInterval: '0s' is not a duration greater than zero")]
    [InlineData("Upstream:Parent", "a:1", "Upstream:Parent: unknown setting")]
    public void Bad_upstream_settings_are_reported_with_their_key(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create(key, (string?)value)]).Build();
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeSettings.Load(config, "/tmp"));
        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }
}
