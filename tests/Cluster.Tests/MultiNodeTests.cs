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

    private NodeProcess StartNode(int index, string connectionString, string clusterId, params string[] extra)
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
            .. extra,
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

    private static string Header(HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? string.Join(",", v) : "";

    [Fact]
    public async Task Single_flight_scale_out_and_kill_9_under_load_on_real_processes()
    {
        var cs = await pg.CreateDatabaseAsync("cluster3");
        var clusterId = $"test-{Guid.NewGuid():N}"[..17];
        string[] extra = ["--Proxy:DebugHeaders=true", "--Cache:HotCacheSize=0"]; // every hit through its owner
        var nodes = Enumerable.Range(1, 3).Select(i => StartNode(i, cs, clusterId, extra)).ToList();
        await Task.WhenAll(nodes.Select(n => n.WaitReadyAsync(TimeSpan.FromSeconds(45))));
        await WaitForMembers(cs, clusterId, rows => rows.Count(r => r.Status == MemberRow.Active) == 3, TimeSpan.FromSeconds(20), "three Active silos");
        await Task.Delay(1000); // grain manifests propagate right after membership
        var clients = nodes.Select(n => Clients.ViaProxy(n.ProxyUri, TimeSpan.FromSeconds(30))).ToList();

        // 1. Single-flight across processes: 30 requests over 3 nodes for one slow, missing URL -> 1 origin request.
        var slow = $"/slow-body/200k?ms=10&delay=500&t={Guid.NewGuid():N}";
        var expectedSlow = OriginContent.Expected(slow, 200 * 1024);
        var bodies = await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            using var r = await clients[i % 3].GetAsync(_origin.Url(slow));
            await AssertOk(r, $"burst request {i}");
            return await r.Content.ReadAsByteArrayAsync();
        }));
        Assert.Equal(1, _origin.RequestCount(slow));
        Assert.All(bodies, b => Assert.Equal(expectedSlow, b));

        // 2. Scale-out 3 -> 4: warm keys, measure the hit ratio before and after the 4th node joins.
        var keys = Enumerable.Range(0, 90).Select(i => $"/bytes/2k?seed={i}&t={Guid.NewGuid():N}").ToArray();
        for (int i = 0; i < keys.Length; i++) (await clients[i % 3].GetAsync(_origin.Url(keys[i]))).Dispose();
        async Task<(int Hits, Dictionary<string, string> Owners)> PassAsync(IReadOnlyList<HttpClient> via)
        {
            int hits = 0;
            var owners = new Dictionary<string, string>();
            for (int i = 0; i < keys.Length; i++)
            {
                using var r = await via[i % via.Count].GetAsync(_origin.Url(keys[i]));
                await AssertOk(r, $"pass, key {i}");
                Assert.Equal(OriginContent.Expected(keys[i], 2048), await r.Content.ReadAsByteArrayAsync());
                if (r.CacheStatus().Contains("hit")) hits++;
                owners[keys[i]] = Header(r, "X-Cache-Owner");
            }
            return (hits, owners);
        }
        var before = await PassAsync(clients);
        nodes.Add(StartNode(4, cs, clusterId, extra));
        await nodes[3].WaitReadyAsync(TimeSpan.FromSeconds(45));
        await WaitForMembers(cs, clusterId, rows => rows.Count(r => r.Status == MemberRow.Active) == 4, TimeSpan.FromSeconds(20), "four Active silos");
        await Task.Delay(3000); // every node refreshes membership (TableRefreshTimeout 2 s) and manifests
        clients.Add(Clients.ViaProxy(nodes[3].ProxyUri, TimeSpan.FromSeconds(30)));
        var after1 = await PassAsync(clients);
        var after2 = await PassAsync(clients);
        var node4Keys = after2.Owners.Count(o => o.Value == "node4");
        output.WriteLine($"hit ratio before {before.Hits}/{keys.Length}, after join {after1.Hits}/{keys.Length}, then {after2.Hits}/{keys.Length}; node4 owns {node4Keys}");
        Assert.True(after1.Hits >= before.Hits * 0.9, $"hit ratio fell from {before.Hits} to {after1.Hits}");
        Assert.True(after2.Hits >= before.Hits * 0.9, $"hit ratio fell from {before.Hits} to {after2.Hits}");
        Assert.InRange(node4Keys, 8, 45); // about a quarter moved to the new node, by handoff (no refetch)
        Assert.All(keys, k => Assert.Equal(1, _origin.RequestCount(k)));

        // 3. kill -9 node 2 under load: its keys are answered again at once (retry, then bypass or new owner),
        //    every 200 carries exactly the right bytes, and the other nodes' hits keep coming.
        var victimKeys = after2.Owners.Where(o => o.Value == "node2").Select(o => o.Key).ToArray();
        var otherKeys = after2.Owners.Where(o => o.Value is "node1" or "node3").Select(o => o.Key).Take(10).ToArray();
        Assert.NotEmpty(victimKeys);
        using var stop = new CancellationTokenSource();
        var log = new System.Collections.Concurrent.ConcurrentBag<(TimeSpan At, string Key, bool Ok, bool Hit)>();
        var clock = Stopwatch.StartNew();
        TimeSpan killedAt = TimeSpan.MaxValue;
        var load = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var client = clients[w % 2 == 0 ? 0 : 2]; // through node1 and node3
            var mine = w < 2 ? victimKeys : otherKeys;
            for (int i = w; !stop.IsCancellationRequested; i++)
            {
                var key = mine[i % mine.Length];
                bool ok = false, hit = false;
                try
                {
                    using var r = await client.GetAsync(_origin.Url(key), stop.Token);
                    var body = await r.Content.ReadAsByteArrayAsync(stop.Token);
                    if (r.StatusCode == HttpStatusCode.OK)
                    {
                        Assert.Equal(OriginContent.Expected(key, 2048), body); // never corrupted or short
                        ok = true;
                        hit = r.CacheStatus().Contains("hit");
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
                catch (HttpRequestException) { }
                log.Add((clock.Elapsed, key, ok, hit));
            }
        })).ToArray();
        await Task.Delay(1500);
        nodes[1].Kill();
        killedAt = clock.Elapsed;
        await Task.Delay(6000);
        stop.Cancel();
        await Task.WhenAll(load);

        var afterKill = log.Where(e => e.At > killedAt).ToList();
        var failures = afterKill.Count(e => !e.Ok);
        // For each victim key: the first successful answer after the kill.
        var answeredAgain = victimKeys.Select(k => afterKill.Where(e => e.Key == k && e.Ok).Select(e => e.At - killedAt).DefaultIfEmpty(TimeSpan.MaxValue).Min()).Max();
        var hitsAgain = victimKeys.Select(k => afterKill.Where(e => e.Key == k && e.Hit).Select(e => e.At - killedAt).DefaultIfEmpty(TimeSpan.MaxValue).Min()).Max();
        var otherGap = afterKill.Where(e => otherKeys.Contains(e.Key) && !e.Hit).Count();
        output.WriteLine($"kill -9 of node2 under load: {afterKill.Count} requests after the kill, {failures} failed; " +
                         $"all {victimKeys.Length} of its keys answered again within {answeredAgain.TotalMilliseconds:0} ms, " +
                         $"hits again within {(hitsAgain == TimeSpan.MaxValue ? "never" : $"{hitsAgain.TotalMilliseconds:0} ms")}; " +
                         $"other nodes' keys: {otherGap} non-hits");
        Assert.True(answeredAgain <= TimeSpan.FromSeconds(3), $"node2's keys were answered again only after {answeredAgain}");
        Assert.Equal(0, failures);
        foreach (var c in clients) c.Dispose();
    }
}
