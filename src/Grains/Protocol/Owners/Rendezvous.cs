using System.IO.Hashing;
using System.Text;

namespace CacheCluster.Grains.Protocol.Owners;

/// <summary>
/// Rendezvous (highest-random-weight) hashing: a key's owner is the node with the highest score hash(key, node),
/// its runner-up the node with the second highest. Adding or removing one of N nodes moves only the keys whose top
/// score belonged to that node, about 1/N of them; the runner-up of a key a new node takes over is the node that
/// owned it before (where the handoff copies it from). Pure functions: <see cref="OwnerRanking"/> applies them to
/// the cluster's silos, tests to plain names.
/// </summary>
public static class Rendezvous
{
    /// <summary>A node's hash seed, from its name (a restarted node with the same name gets its keys back).</summary>
    public static ulong SeedOf(string nodeName) => XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(nodeName));

    public static ulong Score(Guid key, ulong seed)
    {
        Span<byte> bytes = stackalloc byte[16];
        key.TryWriteBytes(bytes);
        return XxHash3.HashToUInt64(bytes, (long)seed);
    }

    /// <summary>
    /// Owner and runner-up of <paramref name="key"/> among <paramref name="nodes"/> (runner-up default with one node).
    /// Equal scores (a 2^-64 chance) go to the node <paramref name="order"/> ranks higher, so every caller agrees.
    /// </summary>
    public static (T Owner, T? RunnerUp) Rank<T>(Guid key, IReadOnlyList<T> nodes, Func<T, ulong> seedOf, IComparer<T> order)
    {
        if (nodes.Count == 0) throw new ArgumentException("No node to rank.", nameof(nodes));
        T first = nodes[0];
        T? second = default;
        ulong s1 = Score(key, seedOf(first)), s2 = 0;
        bool hasSecond = false;
        for (int i = 1; i < nodes.Count; i++)
        {
            var node = nodes[i];
            var s = Score(key, seedOf(node));
            if (Beats(s, node, s1, first, order)) { (second, s2, hasSecond) = (first, s1, true); (first, s1) = (node, s); }
            else if (!hasSecond || Beats(s, node, s2, second!, order)) { (second, s2, hasSecond) = (node, s, true); }
        }
        return (first, second);
    }

    private static bool Beats<T>(ulong score, T node, ulong otherScore, T other, IComparer<T> order) =>
        score > otherScore || (score == otherScore && order.Compare(node, other) > 0);
}
