using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Hosting;

/// <summary>The store on disk: warm restarts, crashes and the disk budget.</summary>
public class PersistenceTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task A_restarted_node_serves_its_earlier_entries_as_hits()
    {
        var dataDir = TempDir.Create("restart");
        string[] paths = [NodeAndOrigin.Unique("/bytes/1k"), NodeAndOrigin.Unique("/bytes/200k"), NodeAndOrigin.Unique("/bytes/3m")];

        await using (var node = await TestNode.StartAsync(dataDir))
        {
            using var client = node.CreateClient();
            foreach (var p in paths) (await client.GetAsync(_origin.Url(p))).Dispose();
        }

        await using (var node = await TestNode.StartAsync(dataDir))
        {
            using var client = node.CreateClient();
            foreach (var p in paths)
            {
                using var r = await client.GetAsync(_origin.Url(p));
                Assert.Contains("hit", r.CacheStatus());
                Assert.Equal(OriginContent.Expected(p), await r.Content.ReadAsByteArrayAsync());
                Assert.Equal(1, _origin.RequestCount(p));
            }
        }
    }

    [Fact] // the Vary marker and its variants are entries like any other: a restart keeps them
    public async Task A_restarted_node_still_serves_each_variant_of_a_varying_url()
    {
        var dataDir = TempDir.Create("restart-vary");
        var path = NodeAndOrigin.Unique("/bytes/2k?vary=Accept-Language");
        static HttpRequestMessage Get(Uri url, string language)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Accept-Language", language);
            return request;
        }

        await using (var node = await TestNode.StartAsync(dataDir))
        {
            using var client = node.CreateClient();
            foreach (var language in new[] { "en", "de" })
                (await client.SendAsync(Get(_origin.Url(path), language))).Dispose();
        }

        await using (var node = await TestNode.StartAsync(dataDir))
        {
            using var client = node.CreateClient();
            foreach (var language in new[] { "en", "de" })
            {
                using var r = await client.SendAsync(Get(_origin.Url(path), language));
                Assert.Contains("hit", r.CacheStatus());
                Assert.Equal("Accept-Language=" + language, r.Headers.GetValues("X-Origin-Vary-Value").Single());
            }
            Assert.Equal(2, _origin.RequestCount(path));
        }
    }

    [Fact]
    public async Task After_kill_9_checkpointed_entries_are_hits_and_nothing_is_corrupt()
    {
        var dataDir = TempDir.Create("kill9");
        var port = Ports.Free();
        string[] before = [.. Enumerable.Range(0, 5).Select(i => NodeAndOrigin.Unique($"/bytes/{100 + i}k"))];
        string[] after = [.. Enumerable.Range(0, 5).Select(i => NodeAndOrigin.Unique($"/bytes/{300 + i}k"))];

        await using (var node = await NodeProcess.StartAsync(dataDir, port, ["--Store:CheckpointInterval=1s"]))
        {
            using var client = Clients.ViaProxy(node.ProxyUri);
            foreach (var p in before) (await client.GetAsync(_origin.Url(p))).Dispose();
            await Task.Delay(TimeSpan.FromSeconds(3)); // at least one checkpoint covers these
            foreach (var p in after) (await client.GetAsync(_origin.Url(p))).Dispose();
            node.Kill();
        }

        await using (var node = await NodeProcess.StartAsync(dataDir, port))
        {
            using var client = Clients.ViaProxy(node.ProxyUri);
            foreach (var p in before)
            {
                using var r = await client.GetAsync(_origin.Url(p));
                Assert.Contains("hit", r.CacheStatus());
                Assert.Equal(OriginContent.Expected(p), await r.Content.ReadAsByteArrayAsync());
            }
            // Entries written after the last checkpoint may be lost, but whatever is served must be exact.
            foreach (var p in after)
            {
                using var r = await client.GetAsync(_origin.Url(p));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal(OriginContent.Expected(p), await r.Content.ReadAsByteArrayAsync());
            }
            Assert.All(before, p => Assert.Equal(1, _origin.RequestCount(p)));
        }
    }

    [Fact]
    public async Task Sigterm_finishes_in_flight_requests_then_checkpoints_and_exits()
    {
        var dataDir = TempDir.Create("sigterm");
        var port = Ports.Free();
        var path = NodeAndOrigin.Unique("/slow-body/512k?ms=40"); // ~1.3 s to deliver
        await using (var node = await NodeProcess.StartAsync(dataDir, port))
        {
            using var client = Clients.ViaProxy(node.ProxyUri);
            var inFlight = client.GetAsync(_origin.Url(path));
            await Task.Delay(300);
            node.Terminate();
            using var r = await inFlight;
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(OriginContent.Expected(path, 512 * 1024), await r.Content.ReadAsByteArrayAsync());
            Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("final checkpoint taken", node.Output);
        }
        // The response finished during the drain was stored and checkpointed: a hit after restart.
        await using (var node = await NodeProcess.StartAsync(dataDir, port))
        {
            using var client = Clients.ViaProxy(node.ProxyUri);
            using var r = await client.GetAsync(_origin.Url(path));
            Assert.Contains("hit", r.CacheStatus());
            Assert.Equal(1, _origin.RequestCount(path));
        }
    }

    [Fact]
    public async Task The_disk_budget_holds_while_three_times_the_budget_is_written()
    {
        const long budget = 32L << 20;
        var dataDir = TempDir.Create("budget");
        await using var node = await TestNode.StartAsync(dataDir, new Dictionary<string, string?>
        {
            ["Store:DiskBudget"] = "32MiB",
            ["Store:MemoryBudget"] = "8MiB",
            ["Store:CheckpointInterval"] = "2s",
        });
        using var client = node.CreateClient();
        long maxSeen = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxSeen = Math.Max(maxSeen, TempDir.SizeOf(dataDir));
                await Task.Delay(20);
            }
        });

        var paths = Enumerable.Range(0, 96).Select(i => NodeAndOrigin.Unique($"/bytes/1m?seed={i}")).ToArray();
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (p, ct) =>
        {
            using var r = await client.GetAsync(_origin.Url(p), ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            await r.Content.ReadAsByteArrayAsync(ct);
        });
        await Task.Delay(3000); // let a checkpoint run with the store full
        stop.Cancel();
        await sampler;
        maxSeen = Math.Max(maxSeen, TempDir.SizeOf(dataDir));
        Assert.True(maxSeen <= budget, $"data directory reached {maxSeen:N0} bytes, budget {budget:N0}");

        // The newest entries are still hits, intact; the oldest were evicted and refetch correctly.
        using (var newest = await client.GetAsync(_origin.Url(paths[^1])))
        {
            Assert.Contains("hit", newest.CacheStatus());
            Assert.Equal(OriginContent.Expected(paths[^1]), await newest.Content.ReadAsByteArrayAsync());
        }
        using (var oldest = await client.GetAsync(_origin.Url(paths[0])))
        {
            Assert.DoesNotContain("hit", oldest.CacheStatus());
            Assert.Equal(OriginContent.Expected(paths[0]), await oldest.Content.ReadAsByteArrayAsync());
        }
    }
}

public class ObjectSizeLimitTests
{
    [Theory]
    [InlineData("/bytes/300k")]            // declared Content-Length over the limit: never stored
    [InlineData("/bytes/300k?chunked=1")]  // no length: the fill is abandoned once it passes the limit
    public async Task Objects_over_the_limit_pass_through_complete_and_unstored(string target)
    {
        await using var origin = await OriginServer.StartAsync();
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["Cache:MaxObjectSize"] = "100KiB" });
        using var client = node.CreateClient();
        var path = NodeAndOrigin.Unique(target);
        for (int i = 0; i < 2; i++)
        {
            using var r = await client.GetAsync(origin.Url(path));
            Assert.DoesNotContain("hit", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path, 300 * 1024), await r.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(2, origin.RequestCount(path));

        var small = NodeAndOrigin.Unique("/bytes/50k");
        (await client.GetAsync(origin.Url(small))).Dispose();
        using var hit = await client.GetAsync(origin.Url(small));
        Assert.Contains("hit", hit.CacheStatus());
    }
}
