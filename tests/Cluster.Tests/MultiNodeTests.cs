using System.Diagnostics;
using System.Net;
using CacheCluster.Cluster.Tests.Support;
using CacheCluster.TestOrigin;
using Xunit.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// Three node processes in AdoNet mode against one PostgreSQL database form one cluster: they share cache
/// entries, and a node killed with SIGKILL is declared dead by the others, which keep serving.
/// </summary>
[Collection(PostgresCollection.Name)]
public class MultiNodeTests(PostgresFixture pg, ITestOutputHelper output) : IAsyncLifetime
{
    private OriginServer _origin = null!;
    private readonly List<NodeProcess> _nodes = [];
    private readonly List<string> _dirs = [];

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync();
        await _origin.DisposeAsync();
        foreach (var d in _dirs)
            try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The fast failure-detection settings meant for loopback tests (see README, "Cluster on PostgreSQL").</summary>
    private static readonly string[] FastDetection =
        ["--Cluster:ProbeTimeout=1s", "--Cluster:MissedProbesLimit=2", "--Cluster:TableRefreshTimeout=2s"];

    private NodeProcess StartNode(int index, string connectionString, string clusterId)
    {
        var ports = Ports.Free(3);
        var dataDir = TempDir.Create($"node{index}");
        _dirs.Add(dataDir);
        var node = NodeProcess.Start($"node{index}", ports[0], ports[1],
        [
            "--Cluster:Mode=AdoNet",
            $"--Cluster:ConnectionString={connectionString}",
            $"--Cluster:ClusterId={clusterId}",
            $"--Cluster:SiloPort={ports[1]}",
            $"--Cluster:GatewayPort={ports[2]}",
            $"--Proxy:Listen=127.0.0.1:{ports[0]}",
            $"--Store:Directory={dataDir}",
            $"--Node:Name=node{index}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:CacheCluster=Information",
            .. FastDetection,
        ]);
        _nodes.Add(node);
        return node;
    }

    private string AllOutput() => string.Join("\n", _nodes.Select(n => $"---- {n.Name} (proxy {n.ProxyPort}, silo {n.SiloPort}) ----\n{n.Output}"));

    private async Task<List<MemberRow>> WaitForMembers(string cs, string clusterId, Func<List<MemberRow>, bool> done, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        List<MemberRow> rows = [];
        while (deadline.Elapsed < timeout)
        {
            rows = await Membership.ReadAsync(cs, clusterId);
            if (done(rows)) return rows;
            await Task.Delay(100);
        }
        Assert.Fail($"{what} not seen within {timeout.TotalSeconds:0} s; membership: {string.Join("; ", rows)}\n{AllOutput()}");
        return rows;
    }

    private async Task AssertOk(HttpResponseMessage r, string what)
    {
        if (r.StatusCode == HttpStatusCode.OK) return;
        var body = await r.Content.ReadAsStringAsync();
        Assert.Fail($"{what}: {(int)r.StatusCode} {r.CacheStatus()} {body[..Math.Min(body.Length, 500)]}\n{AllOutput()}");
    }

    [Fact]
    public async Task Three_nodes_form_one_cluster_share_entries_and_survive_a_kill_9()
    {
        var cs = await pg.CreateDatabaseAsync("multinode");
        var clusterId = $"test-{Guid.NewGuid():N}"[..17];

        // Start all three at once: they also race to create the schema (the advisory lock serialises them).
        var clock = Stopwatch.StartNew();
        var nodes = Enumerable.Range(1, 3).Select(i => StartNode(i, cs, clusterId)).ToArray();
        await Task.WhenAll(nodes.Select(n => n.WaitReadyAsync(TimeSpan.FromSeconds(45))));
        var active = await WaitForMembers(cs, clusterId, rows => rows.Count(r => r.Status == MemberRow.Active) == 3,
            TimeSpan.FromSeconds(20), "three Active silos");
        output.WriteLine($"3 nodes ready and Active in {clock.ElapsedMilliseconds} ms: {string.Join("; ", active)}");
        Assert.Equal(nodes.Select(n => n.SiloPort).Order(), active.Select(r => r.Port).Order());
        Assert.All(active, r => Assert.Equal("127.0.0.1", r.Address));
        Assert.Equal(["node1", "node2", "node3"], active.Select(r => r.SiloName).Order());

        // One cache: a miss stored through node 1 is a hit through node 2 (the entry's grain lives on one silo).
        var path = $"/bytes/10k?t={Guid.NewGuid():N}";
        using (var c1 = Clients.ViaProxy(nodes[0].ProxyUri))
        using (var r = await c1.GetAsync(_origin.Url(path)))
        {
            await AssertOk(r, "node1 (first GET)");
            Assert.Contains("stored", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path), await r.Content.ReadAsByteArrayAsync());
        }
        using (var c2 = Clients.ViaProxy(nodes[1].ProxyUri))
        using (var r = await c2.GetAsync(_origin.Url(path)))
        {
            await AssertOk(r, "node2 (same GET)");
            Assert.Contains("hit", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path), await r.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(1, _origin.RequestCount(path));

        // kill -9 node 3: the other two must declare it Dead in the table within a few seconds.
        var victim = nodes[2];
        victim.Kill();
        var killed = Stopwatch.StartNew();
        var after = await WaitForMembers(cs, clusterId, rows => rows.Any(r => r.Port == victim.SiloPort && r.Status == MemberRow.Dead),
            TimeSpan.FromSeconds(15), $"{victim.Name} (silo port {victim.SiloPort}) Dead");
        var detection = killed.Elapsed;
        output.WriteLine($"{victim.Name} killed; row Dead after {detection.TotalMilliseconds:0} ms (ProbeTimeout 1s, MissedProbesLimit 2, TableRefreshTimeout 2s)");
        Assert.Equal(2, after.Count(r => r.Status == MemberRow.Active));
        Assert.InRange(detection, TimeSpan.Zero, TimeSpan.FromSeconds(10));

        // The survivors keep serving: the earlier URL (its grain may have lived on the dead node: then it is
        // re-activated elsewhere and misses once) and a new one, through both.
        var fresh = $"/bytes/3k?t={Guid.NewGuid():N}";
        foreach (var node in nodes[..2])
        {
            using var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(20));
            foreach (var p in new[] { path, fresh })
            {
                using var r = await client.GetAsync(_origin.Url(p));
                await AssertOk(r, $"{node.Name} after the kill, {p}");
                Assert.Equal(OriginContent.Expected(p), await r.Content.ReadAsByteArrayAsync());
            }
        }
        using (var c2 = Clients.ViaProxy(nodes[1].ProxyUri))
        using (var r = await c2.GetAsync(_origin.Url(fresh)))
            Assert.Contains("hit", r.CacheStatus());
    }
}
