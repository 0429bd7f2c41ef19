using System.Diagnostics;
using CacheCluster.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// Three nodes as separate hosts (network namespaces); one is cut off from its peers and the database for 10 s
/// under steady load through all three, then healed.
/// </summary>
[Collection(PostgresCollection.Name)]
public class PartitionTests(PostgresFixture pg, ITestOutputHelper output)
{
    [SkippableFact]
    public async Task A_node_cut_off_for_10_s_keeps_answering_nothing_is_served_corrupt_and_it_rejoins()
    {
        var (cluster, why) = await HostsCluster.TryCreateAsync(pg, 3, Environment.GetEnvironmentVariable("CC_NODE_ARGS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Skip.If(cluster is null, $"needs network namespaces for nodes as separate hosts: {why}");
        await using var _ = cluster;
        var test = Stopwatch.StartNew();
        for (int h = 1; h <= 3; h++) cluster.Start(h);
        await Task.WhenAll(Enumerable.Range(1, 3).Select(h => cluster.WaitReadyAsync(h, TimeSpan.FromSeconds(120))));
        await cluster.WaitForMembersAsync(rows => HostsCluster.ActiveCount(rows) == 3, TimeSpan.FromSeconds(20), "three Active silos");
        output.WriteLine($"{test.Elapsed.TotalSeconds:0.0} s: 3 nodes ready on {cluster.Network.HostAddress(1)}..{cluster.Network.HostAddress(3)}");

        // Like kubelet: a node that exits (Orleans stops a silo that finds itself declared dead) is started again.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(80));
        var restarts = new List<(TimeSpan At, int Code)>();
        // Each client stays with its node (node3's own clients too) while the node passes its readiness probe.
        var rotation = new Rotation(cluster, [1, 2, 3]);
        var probing = rotation.ProbeAsync(stop.Token);
        var load = new MixedLoad(cluster.Origin, w => rotation.Serves(w % 3 + 1) ? w % 3 + 1 : null) { HostAddressOf = h => $"{cluster.Network.HostAddress(h)}:{HostsCluster.ProxyPort}" };
        var supervisor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var (h, n) in cluster.Nodes.ToList())
                    if (n.HasExited) { lock (restarts) restarts.Add((load.Clock.Elapsed, n.ExitCode)); cluster.Start(h); }
                try { await Task.Delay(200, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        // Three clients per node, each at most one request per 90 ms: a slow answer holds up only its own client.
        var running = load.RunAsync(workers: 9, pace: TimeSpan.FromMilliseconds(90), stop.Token);

        await Task.Delay(TimeSpan.FromSeconds(12)); // warm: the popular keys are cached
        var warmEnd = load.Clock.Elapsed;
        var fetchesBefore = cluster.Origin.TotalRequests;
        cluster.Network.Cut(3);
        var cutAt = load.Clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(10));
        cluster.Network.Heal(3);
        var healAt = load.Clock.Elapsed;
        var fetchesDuring = cluster.Origin.TotalRequests - fetchesBefore;

        // Rejoined: three Active rows again, node3 among them, and ready.
        var rejoin = Stopwatch.StartNew();
        await cluster.WaitForMembersAsync(rows => HostsCluster.ActiveCount(rows) == 3 && rows.Any(r => r.SiloName == "node3" && r.Status == MemberRow.Active),
            TimeSpan.FromSeconds(40), "node3 Active again after the heal");
        await cluster.WaitReadyAsync(3, TimeSpan.FromSeconds(30));
        var rejoinedAt = load.Clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(10)); // hits return
        var endAt = load.Clock.Elapsed;
        await stop.CancelAsync();
        await running;
        await supervisor;
        await probing;
        load.DisposeClients();

        var all = load.Samples.ToList();
        string Window(string name, IEnumerable<Sample> s) => $"{name}: {MixedLoad.Summary(s)}";
        output.WriteLine(Window("warm-up, all nodes", load.Between(TimeSpan.Zero, warmEnd)));
        output.WriteLine(Window("before the cut (last 5 s), all nodes", load.Between(warmEnd - TimeSpan.FromSeconds(5), cutAt)));
        output.WriteLine(Window("during the cut, node1+node2", load.Between(cutAt, healAt).Where(s => s.Host != 3)));
        output.WriteLine(Window("during the cut, node3 (cut off)", load.Between(cutAt, healAt).Where(s => s.Host == 3)));
        output.WriteLine(Window("heal to rejoin, node1+node2", load.Between(healAt, rejoinedAt).Where(s => s.Host != 3)));
        output.WriteLine(Window("heal to rejoin, node3", load.Between(healAt, rejoinedAt).Where(s => s.Host == 3)));
        output.WriteLine(Window("last 5 s, all nodes", load.Between(endAt - TimeSpan.FromSeconds(5), endAt)));
        output.WriteLine($"origin fetches during the 10 s cut: {fetchesDuring}; node restarts: {string.Join(", ", restarts.Select(r => $"exit {r.Code} at {(r.At - healAt).TotalSeconds:0.0} s after the heal"))}; " +
                         $"node3 Active and ready {(rejoinedAt - healAt).TotalSeconds:0.0} s after the heal");
        foreach (var s in all.Where(s => s.Host == 3 && s.At > cutAt - TimeSpan.FromSeconds(1) && s.At < healAt).Take(20))
            output.WriteLine($"  node3 around the cut: {(s.At - cutAt).TotalSeconds:0.00} s after the cut, took {s.Took.TotalMilliseconds:0} ms: {s.Outcome} {s.Detail}");
        if (Environment.GetEnvironmentVariable("CC_DUMP_NODES") is { Length: > 0 } dump) File.WriteAllText(dump, cluster.AllOutput(full: true));
        foreach (var s in all.Where(s => s.Outcome != Outcome.Ok && !s.Detail.Contains("Connection refused")).Take(30))
            output.WriteLine($"  {s.At.TotalSeconds:0.00} s node{s.Host} {s.Outcome} after {s.Took.TotalMilliseconds:0} ms: {s.Key} {s.Detail}");

        // Nothing that looks complete is ever wrong or short, anywhere, at any time.
        Assert.DoesNotContain(all, s => s.Outcome == Outcome.Corrupt);
        // Through the healthy nodes: < 1% errors over the whole run.
        var healthy = all.Where(s => s.Host != 3).ToList();
        Assert.True(healthy.Count(s => s.Outcome != Outcome.Ok) < healthy.Count * 0.01,
            $"healthy nodes: {MixedLoad.Summary(healthy)}\n{cluster.AllOutput()}");
        // Nobody waits for the client's timeout: not the healthy nodes' clients (followers of a fill led by the cut-off
        // node are released once it is declared dead), not the cut-off node's own clients.
        Assert.DoesNotContain(all, s => s.Outcome == Outcome.Hung);
        Assert.DoesNotContain(all, s => s.Detail.StartsWith("500")); // a cluster failure is a bypass, never an internal error
        // The cut-off node answers its own clients during the cut (hits on keys it owns, bypass to the origin for the
        // others after two call timeouts), with the right bytes.
        var cutOff = all.Where(s => s.Host == 3 && s.At >= cutAt - TimeSpan.FromSeconds(1) && s.At < healAt).ToList();
        Assert.NotEmpty(cutOff);
        Assert.All(cutOff.Where(s => s.At + s.Took < healAt), s => Assert.Equal(Outcome.Ok, s.Outcome));
        Assert.All(cutOff, s => Assert.True(s.Took < TimeSpan.FromSeconds(15), $"node3 took {s.Took} during the cut"));
        // Hits return on every node: the hit ratio of the last 5 s is at least 90% of the one before the cut.
        double Ratio(IEnumerable<Sample> s) { var l = s.ToList(); return l.Count == 0 ? 0 : (double)l.Count(x => x.Hit) / l.Count; }
        var before = Ratio(load.Between(warmEnd - TimeSpan.FromSeconds(5), cutAt));
        var after = Ratio(load.Between(endAt - TimeSpan.FromSeconds(5), endAt));
        Assert.True(after >= before * 0.9, $"hit ratio {after:P1} after, {before:P1} before the cut");
        Assert.True(Ratio(load.Between(endAt - TimeSpan.FromSeconds(5), endAt).Where(s => s.Host == 3)) >= before * 0.9, "node3's own hits did not return");
    }
}
