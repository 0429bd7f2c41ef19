using CacheCluster.Grains.Protocol.Owners;

namespace CacheCluster.Grains.Tests.Protocol.Owners;

/// <summary>Owner addressing: a join or a leave moves about 1/N of the keys, and only the keys it must.</summary>
public class RendezvousTests
{
    private const int Keys = 10_000;
    private static readonly Guid[] KeySet = MakeKeys();

    private static Guid[] MakeKeys()
    {
        var random = new Random(12); // fixed: the test is deterministic
        var keys = new Guid[Keys];
        var bytes = new byte[16];
        for (int i = 0; i < Keys; i++) { random.NextBytes(bytes); keys[i] = new Guid(bytes); }
        return keys;
    }

    private static string[] Nodes(int n) => Enumerable.Range(0, n).Select(i => $"node-{i}").ToArray();

    private static (string Owner, string? RunnerUp) Rank(Guid key, IReadOnlyList<string> nodes) =>
        Rendezvous.Rank(key, nodes, Rendezvous.SeedOf, StringComparer.Ordinal);

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void A_joining_node_takes_about_one_in_n_keys_from_the_others_and_nothing_else_moves(int before)
    {
        var old = Nodes(before);
        var grown = Nodes(before + 1);
        var joined = grown[^1];
        int moved = 0;
        foreach (var key in KeySet)
        {
            var (was, _) = Rank(key, old);
            var (now, runnerUp) = Rank(key, grown);
            if (was == now) continue;
            moved++;
            // Only keys the new node wins move, and the node that had them is its runner-up: where the handoff copies from.
            Assert.Equal(joined, now);
            Assert.Equal(was, runnerUp);
        }
        AssertAboutOneIn(before + 1, moved);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    public void A_leaving_node_hands_its_keys_to_their_runners_up_and_nothing_else_moves(int before)
    {
        var old = Nodes(before);
        var leaving = old[before / 2];
        var shrunk = old.Where(n => n != leaving).ToArray();
        int moved = 0;
        foreach (var key in KeySet)
        {
            var (was, runnerUp) = Rank(key, old);
            var (now, _) = Rank(key, shrunk);
            if (was == now) continue;
            moved++;
            Assert.Equal(leaving, was);
            Assert.Equal(runnerUp, now);
        }
        AssertAboutOneIn(before, moved);
    }

    [Fact]
    public void Keys_spread_evenly_and_the_ranking_ignores_the_order_nodes_are_listed_in()
    {
        var nodes = Nodes(5);
        var reversed = nodes.Reverse().ToArray();
        var counts = nodes.ToDictionary(n => n, _ => 0);
        foreach (var key in KeySet)
        {
            var ranked = Rank(key, nodes);
            Assert.Equal(ranked, Rank(key, reversed));
            Assert.NotEqual(ranked.Owner, ranked.RunnerUp);
            counts[ranked.Owner]++;
        }
        foreach (var (node, count) in counts)
            Assert.InRange(count, Keys / 5 * 0.85, Keys / 5 * 1.15);
    }

    [Fact]
    public void One_node_owns_everything_and_has_no_runner_up()
    {
        var (owner, runnerUp) = Rank(KeySet[0], ["only"]);
        Assert.Equal("only", owner);
        Assert.Null(runnerUp);
        Assert.Throws<ArgumentException>(() => Rank(KeySet[0], []));
    }

    /// <summary>Within 20% of keys/n: a modulo placement (Orleans' HashBasedPlacement) would move most keys instead.</summary>
    private static void AssertAboutOneIn(int n, int moved) =>
        Assert.InRange(moved, Keys / n * 0.8, Keys / n * 1.2);
}
