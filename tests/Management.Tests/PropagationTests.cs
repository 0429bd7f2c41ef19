using System.Diagnostics;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using Xunit.Abstractions;

namespace CacheCluster.Management.Tests;

/// <summary>
/// How fast a purge and a policy change reach every node: each node is polled in a tight loop while the call is
/// made, and the time until the last node shows the change is measured from the start of the call.
/// </summary>
public class PropagationTests(ManagedCluster c, ITestOutputHelper output) : IClassFixture<ManagedCluster>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);
    private const int Rounds = 7;

    /// <summary>Polls every node until <paramref name="changed"/> holds on it; the time each node first showed it.</summary>
    private async Task<TimeSpan[]> UntilEveryNodeAsync(Stopwatch clock, Func<int, Task<bool>> changed) =>
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async i =>
        {
            while (clock.Elapsed < Limit)
            {
                var at = clock.Elapsed;
                if (await changed(i)) return at;
            }
            return TimeSpan.MaxValue;
        }));

    [Fact]
    public async Task A_purged_url_is_served_by_no_node_moments_after_the_purge_call()
    {
        var figures = new List<double>();
        for (int round = 0; round < 5; round++)
        {
            var url = c.Origin.Url(ManagedCluster.Unique("/bytes/4k"));
            for (int k = 0; k < 3; k++)
                for (int i = 0; i < 3; i++)
                    await c.GetAsync(i, url); // stored, then hot copies on every node
            for (int i = 0; i < 3; i++) Assert.Contains("hit", (await c.GetAsync(i, url, "only-if-cached")).CacheStatus);

            var clock = Stopwatch.StartNew();
            var purge = c.Client(round % 3).PurgeAsync(new PurgeRequest { Url = url.ToString() }, ManagedCluster.Call).ResponseAsync;
            // "Gone" from a node: only-if-cached gets 504 (nothing in its hot copies nor at the owner).
            var gone = await UntilEveryNodeAsync(clock, async i => (await c.GetAsync(i, url, "only-if-cached")).Status == 504);
            var reply = await purge;
            Assert.Equal(1, reply.Purged);
            Assert.All(gone, t => Assert.NotEqual(TimeSpan.MaxValue, t));
            // Once gone, it stays gone on every node (no hot copy comes back).
            for (int i = 0; i < 3; i++) Assert.Equal(504, (await c.GetAsync(i, url, "only-if-cached")).Status);
            figures.Add(gone.Max().TotalMilliseconds);
            output.WriteLine($"purge {round}: call took {clock.Elapsed.TotalMilliseconds:0} ms incl. checks; gone from node1..3 after {string.Join(" / ", gone.Select(t => $"{t.TotalMilliseconds:0}"))} ms");
        }
        output.WriteLine($"purge to no node serving: median {figures.Order().ElementAt(2):0} ms, max {figures.Max():0} ms (loopback, 3 in-process nodes)");
        // The goal is 100 ms on loopback (median 20 ms seen, max 409 ms at load 30); the bound leaves room for a
        // loaded 2-core CI machine.
        Assert.True(figures.Order().ElementAt(2) <= 500, $"median {figures.Order().ElementAt(2):0} ms");
    }

    [Fact]
    public async Task An_access_rule_set_through_one_node_is_enforced_by_every_node_at_once()
    {
        // One client per node, connected before the clock starts: the figure is the change's way through the
        // cluster, not a new HTTP/2 connection.
        var clients = Enumerable.Range(0, 3).Select(c.Client).ToArray();
        var before = (await clients[0].GetPolicyAsync(new GetPolicyRequest(), ManagedCluster.Call)).AccessRules;
        foreach (var client in clients) await client.GetPolicyAsync(new GetPolicyRequest(), ManagedCluster.Call);
        var figures = new List<double>();
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                var marker = $"blocked-{Guid.NewGuid():N}"[..16];
                var url = c.Origin.Url($"/bytes/1k?{marker}");
                for (int i = 0; i < 3; i++) Assert.Equal(200, (await c.GetAsync(i, url)).Status);

                var clock = Stopwatch.StartNew();
                var set = clients[round % 3].SetPolicyAsync(new SetPolicyRequest
                {
                    Policy = new Policy { AccessRules = { new[] { $"deny name=propagation url_regex={marker}" }.Concat(before) } },
                    Sections = { "access_rules" },
                }, ManagedCluster.Call).ResponseAsync;
                var enforced = await UntilEveryNodeAsync(clock, async i => (await c.GetAsync(i, url)).Status == 403);
                var reply = await set;
                var returned = clock.Elapsed;
                Assert.Equal(3, reply.Nodes.Count);
                Assert.All(enforced, t => Assert.NotEqual(TimeSpan.MaxValue, t));
                figures.Add(enforced.Max().TotalMilliseconds);
                output.WriteLine($"policy {round} (through node{round % 3 + 1}): enforced on node1..3 after {string.Join(" / ", enforced.Select(t => $"{t.TotalMilliseconds:0}"))} ms; SetPolicy returned after {returned.TotalMilliseconds:0} ms");
                await clients[round % 3].SetPolicyAsync(new SetPolicyRequest { Policy = new Policy { AccessRules = { before } }, Sections = { "access_rules" } }, ManagedCluster.Call);
                for (int i = 0; i < 3; i++) Assert.Equal(200, (await c.GetAsync(i, url)).Status); // the old rules are back everywhere
            }
        }
        finally
        {
            await clients[1].SetPolicyAsync(new SetPolicyRequest { Policy = new Policy { AccessRules = { before } }, Sections = { "access_rules" } }, ManagedCluster.Call);
        }
        var median = figures.Order().ElementAt(Rounds / 2);
        output.WriteLine($"access rule to every node enforcing: median {median:0} ms, max {figures.Max():0} ms over {Rounds} rounds (loopback, 3 in-process nodes)");
        // Goal: 100 ms on loopback (docs/faults.md has the figures). The bound catches a change that reaches the
        // nodes only later (a refresh, a restart), not a slow machine.
        Assert.True(median <= 1000, $"median {median:0} ms");
    }
}
