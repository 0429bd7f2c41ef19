using System.IO.Hashing;
using System.Text;

namespace CacheCluster.Node.Proxy.Upstream;

/// <summary>
/// CARP-like choice of parent (rendezvous hashing): every parent gets a score from hash(parent, URL) and the
/// URL goes to the highest. All child nodes and sites pick the same parent for a URL, so each object is cached
/// once among the parents, and removing a parent only moves the URLs it had.
/// </summary>
public static class ParentRanking
{
    /// <summary>Indexes of <paramref name="parents"/> from best to worst for <paramref name="url"/>.</summary>
    public static int[] Rank(IReadOnlyList<ParentProxy> parents, string url)
    {
        var order = new int[parents.Count];
        var scores = new ulong[parents.Count];
        var urlHash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(url));
        for (int i = 0; i < parents.Count; i++)
        {
            order[i] = i;
            scores[i] = Mix(parents[i].Hash ^ urlHash);
        }
        Array.Sort(scores, order);
        Array.Reverse(order);
        return order;
    }

    // splitmix64 finaliser: spreads the combined hash so each parent's score is independent of the others'.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
