using System.Net;
using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>Several real nodes in one process forming one cache: cross-node hits, one fetch per burst, handoff.</summary>
public class ClusterTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static Dictionary<string, string?> NoHotCopies => new() { ["Cache:HotCacheSize"] = "0", ["Proxy:DebugHeaders"] = "true" };

    [Fact]
    public async Task An_object_fetched_through_one_node_is_a_hit_on_every_node()
    {
        await using var cluster = await LocalCluster.StartAsync(3, NoHotCopies);
        var path = NodeAndOrigin.Unique("/bytes/1m");
        var expected = OriginContent.ExpectedSha256(path, 1 << 20);
        for (int i = 0; i < 3; i++)
        {
            using var client = cluster.Nodes[i].CreateClient();
            using var r = await client.GetAsync(_origin.Url(path), HttpCompletionOption.ResponseHeadersRead);
            Assert.Contains(i == 0 ? "fwd=uri-miss" : "hit", r.CacheStatus());
            var (length, sha) = await OriginContent.Sha256Async(await r.Content.ReadAsStreamAsync());
            Assert.Equal(1 << 20, length);
            Assert.Equal(expected, sha);
        }
        Assert.Equal(1, _origin.RequestCount(path));
    }

    [Fact]
    public async Task A_burst_over_all_nodes_reaches_the_origin_once()
    {
        await using var cluster = await LocalCluster.StartAsync(3, NoHotCopies);
        var clients = cluster.Nodes.Select(n => n.CreateClient()).ToArray();
        var path = NodeAndOrigin.Unique("/slow-body/300k?ms=10&delay=400");
        var expected = OriginContent.ExpectedSha256(path, 300 * 1024);
        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using var r = await clients[i % 3].GetAsync(_origin.Url(path), HttpCompletionOption.ResponseHeadersRead);
            var (length, sha) = await OriginContent.Sha256Async(await r.Content.ReadAsStreamAsync());
            return (r.StatusCode, length, sha);
        }));
        Assert.Equal(1, _origin.RequestCount(path));
        Assert.All(results, r => Assert.Equal((HttpStatusCode.OK, 300L * 1024, expected), r));
        foreach (var c in clients) c.Dispose();
    }

    [Fact]
    public async Task Keys_spread_over_the_nodes_by_owner_hashing()
    {
        await using var cluster = await LocalCluster.StartAsync(3, NoHotCopies);
        using var client = cluster.Nodes[0].CreateClient();
        var paths = Enumerable.Range(0, 150).Select(i => NodeAndOrigin.Unique($"/bytes/1k?seed={i}")).ToArray();
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (p, ct) => (await client.GetAsync(_origin.Url(p), ct)).Dispose());

        var owned = await CountOwnedAsync(cluster, paths);
        Assert.Equal(paths.Length, owned.Sum());
        Assert.All(owned, n => Assert.InRange(n, 25, 80)); // about a third each
    }

    [Fact]
    public async Task Scale_out_keeps_the_hit_ratio_through_handoff()
    {
        await using var cluster = await LocalCluster.StartAsync(3, NoHotCopies);
        using var client = cluster.Nodes[0].CreateClient();
        var paths = Enumerable.Range(0, 120).Select(i => NodeAndOrigin.Unique($"/bytes/2k?seed={i}")).ToArray();
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (p, ct) => (await client.GetAsync(_origin.Url(p), ct)).Dispose());

        await cluster.AddNodeAsync();
        await cluster.WaitForMembersAsync(4);

        // Twice: the first request may still reach the old owner, the second finds the new one.
        for (int round = 0; round < 2; round++)
        {
            int hits = 0;
            var owners = new Dictionary<string, int>();
            using var via = cluster.Nodes[1].CreateClient();
            foreach (var p in paths)
            {
                using var r = await via.GetAsync(_origin.Url(p));
                Assert.Equal(OriginContent.Expected(p, 2048), await r.Content.ReadAsByteArrayAsync());
                if (r.CacheStatus().Contains("hit")) hits++;
                var o = r.Header("X-Cache-Owner") ?? "?";
                owners[o] = owners.GetValueOrDefault(o) + 1;
            }
            Console.WriteLine($"round {round}: hits {hits}, owners " + string.Join(", ", owners.Select(kv => $"{kv.Key}={kv.Value}")));
            Assert.True(hits >= paths.Length * 0.9, $"round {round}: {hits} of {paths.Length} hits after scale-out");
        }
        var owned = await CountOwnedAsync(cluster, paths);
        Assert.InRange(owned[3], 10, 60); // the new node took over about a quarter of the keys
        Assert.All(paths, p => Assert.True(_origin.RequestCount(p) <= 1, $"{p} was fetched again"));
    }

    [Fact]
    public async Task Hot_copies_are_dropped_on_every_node_when_the_entry_is_invalidated()
    {
        await using var cluster = await LocalCluster.StartAsync(3);
        var clients = cluster.Nodes.Select(n => n.CreateClient()).ToArray();
        var path = NodeAndOrigin.Unique("/bytes/4k");
        var url = _origin.Url(path);
        foreach (var c in clients)
            for (int i = 0; i < 3; i++) (await c.GetAsync(url)).Dispose(); // every node now holds a hot copy

        var grains = cluster.Nodes[0].Services.GetRequiredService<IGrainFactory>();
        Assert.Equal(1, await grains.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(url.ToString())).InvalidateAsync());
        await Task.Delay(300); // the owner's drop messages are one-way

        foreach (var c in clients)
        {
            using var r = await c.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        }
        Assert.Equal(2, _origin.RequestCount(path));
    }

    /// <summary>How many of the paths' header records each node's own store holds.</summary>
    private async Task<int[]> CountOwnedAsync(LocalCluster cluster, string[] paths)
    {
        var grains = cluster.Nodes[0].Services.GetRequiredService<IGrainFactory>();
        var counts = new int[cluster.Nodes.Count];
        for (int n = 0; n < cluster.Nodes.Count; n++)
        {
            var silo = cluster.Nodes[n].Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToParsableString();
            var node = grains.GetGrain<INodeGrain>(silo);
            foreach (var p in paths)
                if ((await node.ReadHeaderAsync(CacheKeyHash.ToGrainKey(_origin.Url(p).ToString()))).Value is not null) counts[n]++;
        }
        return counts;
    }
}
