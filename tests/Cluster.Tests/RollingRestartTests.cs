using System.Diagnostics;
using CacheCluster.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// A rollout as Kubernetes does it with the chart (deploy/helm: preStop sleep, then SIGTERM, the pod replaced once it
/// is gone, the next one once the new pod is ready), node by node, under the Zipf mix through the nodes in rotation.
/// </summary>
[Collection(PostgresCollection.Name)]
public class RollingRestartTests(PostgresFixture pg, ITestOutputHelper output)
{
    /// <summary>The chart's preStopSleepSeconds is 5; the Services here are the test's own rotation, which drops a node at once.</summary>
    private static readonly TimeSpan PreStop = TimeSpan.FromSeconds(2);

    [SkippableFact]
    public async Task Restarting_all_three_nodes_one_at_a_time_with_SIGTERM_loses_no_request_and_keeps_the_hits()
    {
        var (cluster, why) = await HostsCluster.TryCreateAsync(pg, 3);
        Skip.If(cluster is null, $"needs network namespaces for nodes as separate hosts: {why}");
        await using var _ = cluster;
        for (int h = 1; h <= 3; h++) cluster.Start(h);
        await Task.WhenAll(Enumerable.Range(1, 3).Select(h => cluster.WaitReadyAsync(h, TimeSpan.FromSeconds(120))));
        await cluster.WaitForMembersAsync(rows => HostsCluster.ActiveCount(rows) == 3, TimeSpan.FromSeconds(20), "three Active silos");

        // The Service's endpoints: a node leaves the rotation before its SIGTERM and comes back once ready.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var rotation = new Rotation(cluster, [1, 2, 3]);
        var probing = rotation.ProbeAsync(stop.Token);
        var load = new MixedLoad(cluster.Origin, _ => rotation.Pick()) { HostAddressOf = h => $"{cluster.Network.HostAddress(h)}:{HostsCluster.ProxyPort}" };
        var running = load.RunAsync(workers: 6, pace: TimeSpan.FromMilliseconds(60), stop.Token);

        await Task.Delay(TimeSpan.FromSeconds(12));
        var beforeFrom = load.Clock.Elapsed - TimeSpan.FromSeconds(5);
        var beforeTo = load.Clock.Elapsed;
        var steps = new List<string>();
        var stackTraces = new List<string>();
        for (int h = 1; h <= 3; h++)
        {
            var step = Stopwatch.StartNew();
            rotation.Drain(h);
            await Task.Delay(PreStop);
            var old = cluster.Nodes[h];
            old.Terminate();
            var code = await old.WaitForExitAsync(TimeSpan.FromSeconds(40));
            var stopped = step.Elapsed;
            Assert.True(code == 0, $"node{h} exited with {code} after SIGTERM:\n{old.Output}");
            if (old.Output.Contains("   at ")) stackTraces.Add($"node{h}:\n{old.Output}"); // a normal stop should print none
            cluster.Start(h);
            await cluster.WaitReadyAsync(h, TimeSpan.FromSeconds(60));
            await cluster.WaitForMembersAsync(rows => HostsCluster.ActiveCount(rows) == 3, TimeSpan.FromSeconds(30), $"node{h} Active again");
            rotation.Restore(h);
            steps.Add($"node{h}: stopped {stopped.TotalSeconds:0.0} s after leaving the rotation, back in {step.Elapsed.TotalSeconds:0.0} s");
        }
        var rolledAt = load.Clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(8));
        var endAt = load.Clock.Elapsed;
        await stop.CancelAsync();
        await running;
        await probing;
        load.DisposeClients();

        var all = load.Samples.ToList();
        var before = load.Between(beforeFrom, beforeTo).ToList();
        var after = load.Between(endAt - TimeSpan.FromSeconds(5), endAt).ToList();
        output.WriteLine(string.Join("\n", steps));
        output.WriteLine($"before the rollout (5 s): {MixedLoad.Summary(before)}");
        output.WriteLine($"during the rollout: {MixedLoad.Summary(load.Between(beforeTo, rolledAt))}");
        output.WriteLine($"after the rollout (last 5 s): {MixedLoad.Summary(after)}");
        output.WriteLine($"whole run: {MixedLoad.Summary(all)}");
        foreach (var s in all.Where(s => s.Outcome != Outcome.Ok).Take(30))
            output.WriteLine($"  {s.At.TotalSeconds:0.00} s node{s.Host} {s.Outcome} after {s.Took.TotalMilliseconds:0} ms: {s.Key} {s.Detail}");

        if (Environment.GetEnvironmentVariable("CC_DUMP_NODES") is { Length: > 0 } dump) File.WriteAllText(dump + ".rolling", string.Join("\n", stackTraces));
        output.WriteLine($"stack traces in the output of {stackTraces.Count} stopped node(s)");
        Assert.DoesNotContain(all, s => s.Outcome == Outcome.Corrupt);
        Assert.True(all.All(s => s.Outcome == Outcome.Ok), $"{MixedLoad.Summary(all)}\n{cluster.AllOutput()}");
        double Ratio(List<Sample> l) => l.Count == 0 ? 0 : (double)l.Count(x => x.Hit) / l.Count;
        Assert.True(Ratio(after) >= Ratio(before) * 0.9, $"hit ratio {Ratio(after):P1} after the rollout, {Ratio(before):P1} before");
    }
}
