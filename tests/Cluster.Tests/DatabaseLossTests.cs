using System.Diagnostics;
using System.Text.RegularExpressions;
using CacheCluster.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// The membership database (PostgreSQL) stops under load: the running nodes keep serving from their last view
/// of the cluster, a node started meanwhile stops with a clear message, and all is well when it returns.
/// </summary>
[Collection(PostgresCollection.Name)]
public class DatabaseLossTests(PostgresFixture pg, ITestOutputHelper output)
{
    /// <summary>
    /// How long PostgreSQL stays down: at least until the node started meanwhile has given up (its start-up retries
    /// for 15 s), at least this long, and at most 60 s. CC_DB_OUTAGE_SECONDS=60 gives the full minute of issue 16.
    /// </summary>
    private static TimeSpan MinimumOutage =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("CC_DB_OUTAGE_SECONDS"), out var s) ? Math.Clamp(s, 5, 60) : 20);

    [SkippableFact]
    public async Task Serving_goes_on_while_PostgreSQL_is_down_a_new_node_refuses_to_start_clearly_and_all_recovers()
    {
        var (cluster, why) = await HostsCluster.TryCreateAsync(pg, 4);
        Skip.If(cluster is null, $"needs network namespaces for nodes as separate hosts: {why}");
        await using var _ = cluster;
        for (int h = 1; h <= 3; h++) cluster.Start(h);
        await Task.WhenAll(Enumerable.Range(1, 3).Select(h => cluster.WaitReadyAsync(h, TimeSpan.FromSeconds(120))));
        await cluster.WaitForMembersAsync(rows => HostsCluster.ActiveCount(rows) == 3, TimeSpan.FromSeconds(20), "three Active silos");

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var rotation = new Rotation(cluster, [1, 2, 3]);
        var probing = rotation.ProbeAsync(stop.Token);
        var load = new MixedLoad(cluster.Origin, _ => rotation.Pick()) { HostAddressOf = h => $"{cluster.Network.HostAddress(h)}:{HostsCluster.ProxyPort}" };
        var running = load.RunAsync(workers: 6, pace: TimeSpan.FromMilliseconds(60), stop.Token);
        await Task.Delay(TimeSpan.FromSeconds(8));

        var logBefore = Enumerable.Range(1, 3).ToDictionary(h => h, h => cluster.Nodes[h].Output.Length);
        await pg.StopAsync();
        var downAt = load.Clock.Elapsed;
        var down = Stopwatch.StartNew();
        try
        {
            // A node started during the outage must stop with a clear message, not hang or half-join.
            var late = cluster.Start(4);
            var code = await late.WaitForExitAsync(TimeSpan.FromSeconds(60));
            output.WriteLine($"node4, started while PostgreSQL was down, exited with {code} after {down.Elapsed.TotalSeconds:0.0} s:\n{late.Output.Trim()}");
            Assert.Equal(2, code);
            Assert.Contains("Cluster:ConnectionString", late.Output);
            Assert.DoesNotContain("   at ", late.Output); // a sentence, not a stack trace
            var rest = MinimumOutage - down.Elapsed;
            if (rest > TimeSpan.Zero) await Task.Delay(rest);
        }
        finally
        {
            await pg.StartAgainAsync();
        }
        var upAt = load.Clock.Elapsed;
        output.WriteLine($"PostgreSQL down for {(upAt - downAt).TotalSeconds:0.0} s");

        // Recovery: a node started now joins the three, which are still (or again) Active.
        cluster.Start(4);
        await cluster.WaitReadyAsync(4, TimeSpan.FromSeconds(60));
        var rows = await cluster.WaitForMembersAsync(r => HostsCluster.ActiveCount(r) == 4, TimeSpan.FromSeconds(30), "four Active silos after the outage");
        var recoveredAt = load.Clock.Elapsed;
        // Each running node says once that the database is back (at its next table refresh).
        var saidBack = Stopwatch.StartNew();
        while (saidBack.Elapsed < TimeSpan.FromSeconds(30) && !Enumerable.Range(1, 3).All(h => cluster.Nodes[h].Output.Contains(BackLine)))
            await Task.Delay(250);
        await Task.Delay(TimeSpan.FromSeconds(3));
        await stop.CancelAsync();
        await running;
        await probing;
        load.DisposeClients();

        var during = load.Between(downAt, upAt).ToList();
        var all = load.Samples.ToList();
        output.WriteLine($"during the outage: {MixedLoad.Summary(during)}");
        output.WriteLine($"after it, until node4 joined ({(recoveredAt - upAt).TotalSeconds:0.0} s): {MixedLoad.Summary(load.Between(upAt, recoveredAt))}");
        output.WriteLine($"membership after: {string.Join("; ", rows)}");
        foreach (var s in all.Where(s => s.Outcome != Outcome.Ok).Take(20))
            output.WriteLine($"  {s.At.TotalSeconds:0.00} s node{s.Host} {s.Outcome} after {s.Took.TotalMilliseconds:0} ms: {s.Key} {s.Detail}");
        // What the running nodes logged about it: warnings and errors during the outage, by category.
        var said = new Dictionary<int, string>();
        for (int h = 1; h <= 3; h++)
        {
            said[h] = cluster.Nodes[h].Output[logBefore[h]..];
            var warnings = Regex.Matches(said[h], @"^(warn|fail|crit): ([^\[\n]+)(\[\d+\])?\n +(.*)$", RegexOptions.Multiline);
            var lines = warnings.Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}{m.Groups[3].Value}").GroupBy(x => x).Select(g => $"{g.Key} x{g.Count()}");
            output.WriteLine($"node{h} logged during and after the outage: {string.Join(", ", lines)}");
            foreach (var line in said[h].Split('\n').Where(l => l.Contains(DownLine) || l.Contains(BackLine))) output.WriteLine($"  {line.Trim()}");
            foreach (Match m in warnings.Take(30))
                output.WriteLine($"  {m.Groups[1].Value} {m.Groups[2].Value}{m.Groups[3].Value}: {m.Groups[4].Value[..Math.Min(220, m.Groups[4].Value.Length)]}");
        }

        Assert.NotEmpty(during);
        Assert.DoesNotContain(all, s => s.Outcome == Outcome.Corrupt);
        // Goal: 0 errors. Seen: 5 of 1068 during a 60 s outage (4 connections cut mid-body, one follower waiting 20 s)
        // while the box ran at load 30 with 1-2 s thread-pool stalls: no node can be declared dead while the table is
        // gone, so calls to a stalled node time out instead (docs/faults.md). Bounded here at 1%.
        Assert.True(all.Count(s => s.Outcome != Outcome.Ok) <= all.Count / 100, $"{MixedLoad.Summary(all)}\n{cluster.AllOutput()}");
        Assert.All(Enumerable.Range(1, 3), h => Assert.False(cluster.Nodes[h].HasExited, $"node{h} exited"));
        // The logs say once what is wrong and once that it is over, naming the database; Orleans' retry warnings
        // (each with the exception, ~7 a minute per node) are left out meanwhile.
        foreach (var h in Enumerable.Range(1, 3))
        {
            Assert.Equal(1, Occurrences(said[h], DownLine));
            Assert.Matches(@"Cluster database unreachable \(PostgreSQL at 10\.216\.\d+\.2:\d+, database '[^']+', user '[^']+'\): serving with the last known membership \(3 active", said[h]);
            Assert.Equal(1, Occurrences(said[h], BackLine));
            // Until the node says it is back: later table warnings are news (e.g. another node that has not
            // written its row again yet).
            var outage = said[h][..said[h].IndexOf(BackLine, StringComparison.Ordinal)];
            int retries = Regex.Matches(outage, @"^warn: Orleans\.Runtime\.MembershipService\.(MembershipTableManager|MembershipAgent|MembershipTableCleanupAgent)\[", RegexOptions.Multiline).Count;
            Assert.True(retries <= 3, $"node{h}: {retries} Orleans membership table warnings during the outage");
        }
    }

    private const string DownLine = "Cluster database unreachable (";
    private const string BackLine = "Cluster database reachable again after ";

    private static int Occurrences(string text, string what) => Regex.Matches(text, Regex.Escape(what)).Count;
}
