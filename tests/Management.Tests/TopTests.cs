using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using CacheCluster.Node.Management.Observability;
using Grpc.Core;

namespace CacheCluster.Management.Tests;

/// <summary>The hottest URLs and hosts: each node's decaying tables, GetTop summing them, and cachectl top.</summary>
public class TopTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private sealed class Clock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now = start;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task GetTop_sums_every_nodes_counts_for_a_url_and_its_host()
    {
        var hot = c.Origin.Url(ManagedCluster.Unique("/bytes/2k"));
        for (int i = 0; i < 9; i++) await c.GetAsync(i % 3, hot); // through all three nodes: 1 miss, 8 hits
        var reply = await c.Client(0).GetTopAsync(new TopRequest { Limit = 1000 }, ManagedCluster.Call);
        var item = Assert.Single(reply.Urls, u => u.Key == hot.ToString());
        // Decay may already have halved some counts if a minute boundary passed meanwhile.
        Assert.InRange(item.Requests, 4.5, 9);
        Assert.InRange(item.Hits, item.Requests * 0.5, item.Requests);
        Assert.True(item.Bytes >= 2048 * 4);
        Assert.Contains(reply.Hosts, h => h.Key == $"{hot.Host}:{hot.Port}" && h.Requests >= item.Requests);

        var byBytes = await c.Client(1).GetTopAsync(new TopRequest { Limit = 3, ByBytes = true }, ManagedCluster.Call);
        Assert.True(byBytes.Urls.Count <= 3);
        Assert.Equal(byBytes.Urls.OrderByDescending(u => u.Bytes).Select(u => u.Key), byBytes.Urls.Select(u => u.Key));

        var bad = await Assert.ThrowsAsync<RpcException>(async () => await c.Client(0).GetTopAsync(new TopRequest { Limit = 5000 }, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.Contains("limit", bad.Status.Detail);
    }

    [Fact]
    public async Task Cachectl_top_lists_the_hot_url_and_host()
    {
        var hot = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        for (int i = 0; i < 30; i++) await c.GetAsync(i % 3, hot);
        var args = new[] { "--address", ManagedCluster.ManagementUri(c.Nodes[2]).ToString(), "--token", ManagedCluster.Token };
        var urls = await Cli.RunAsync(["top", "--limit", "1000", .. args]);
        Assert.True(urls.ExitCode == 0, urls.Stderr);
        Assert.Contains(hot.ToString(), urls.Stdout);
        Assert.Contains("hottest URLs by requests", urls.Stdout);
        var hosts = await Cli.RunAsync(["top", "--hosts", "--watch", "--interval", "1", "--count", "2", .. args]);
        Assert.True(hosts.ExitCode == 0, hosts.Stderr);
        Assert.Equal(2, hosts.Stdout.Split("hottest hosts").Length - 1);
        Assert.Contains($"{hot.Host}:{hot.Port}", hosts.Stdout);
    }

    [Fact]
    public void Counts_halve_every_minute_and_tables_stay_bounded()
    {
        var clock = new Clock(new DateTimeOffset(2026, 1, 1, 0, 0, 10, TimeSpan.Zero));
        var top = new TopUrls(clock);
        for (int i = 0; i < 8; i++) top.Count("http://a.example/x", hit: i > 0, bytes: 100);
        top.Count("https://b.example:8443/y?q", hit: false, bytes: 5);
        var (urls, hosts) = top.Top(10, byBytes: false);
        Assert.Equal(new TopUrls.Item("http://a.example/x", 8, 7, 800), urls[0]);
        Assert.Contains(hosts, h => h.Key == "b.example:8443");

        clock.Now = clock.Now.AddMinutes(1);
        (urls, _) = top.Top(10, byBytes: false);
        Assert.Equal(4, urls[0].Requests);
        Assert.Equal(0.5, urls[1].Requests);
        clock.Now = clock.Now.AddMinutes(1);
        (urls, _) = top.Top(10, byBytes: false);
        Assert.Equal(2, urls[0].Requests);
        Assert.DoesNotContain(urls, u => u.Key.StartsWith("https://b.example")); // 1 -> 0.25: forgotten

        // A long tail of one-off URLs: memory stays bounded and the hot URL stays on top.
        for (int i = 0; i < 10 * TopUrls.Keep; i++) top.Count($"http://tail.example/{i}", hit: false, bytes: 1);
        (urls, _) = top.Top(TopUrls.Keep * 3, byBytes: false);
        Assert.True(urls.Length <= 2 * TopUrls.Keep);
        Assert.Equal("http://a.example/x", urls[0].Key);
        Assert.Equal("example.org:8080", TopUrls.HostOf("example.org:8080"));
        Assert.Equal("example.org", TopUrls.HostOf("http://example.org?x=1"));
    }
}
