using CacheCluster.Grains.Protocol.Owners;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// Which share of the key space each node owns now: the owner ranking (rendezvous hashing) applied to a fixed
/// sample of keys, recomputed only when the membership changes. Rendezvous hashing gives each node about 1/N;
/// the sample shows how far from that the current names land.
/// </summary>
public sealed class KeySpaceShare(OwnerRanking ranking, IClusterMembershipService membership)
{
    private const int SampleKeys = 4096;
    private static readonly Guid[] Keys = MakeKeys();
    private (OwnerRanking.ViewVersion Version, Dictionary<string, double> Share)? _last;

    private static Guid[] MakeKeys()
    {
        var random = new Random(20260101); // fixed: the same sample on every node and every call
        var keys = new Guid[SampleKeys];
        Span<byte> bytes = stackalloc byte[16];
        for (int i = 0; i < keys.Length; i++) { random.NextBytes(bytes); keys[i] = new Guid(bytes); }
        return keys;
    }

    /// <summary>Node name to the fraction (0..1) of keys it owns.</summary>
    public Dictionary<string, double> Current()
    {
        var version = ranking.Version;
        if (_last is { } last && last.Version == version) return last.Share;
        var share = new Dictionary<string, double>(StringComparer.Ordinal);
        var silos = ranking.ActiveSilos();
        if (silos.Length > 0)
        {
            var members = membership.CurrentSnapshot.Members;
            foreach (var key in Keys)
            {
                var owner = ranking.OwnerOf(key, silos);
                var name = members.TryGetValue(owner, out var m) ? m.Name : owner.ToParsableString();
                share[name] = share.GetValueOrDefault(name) + 1.0 / SampleKeys;
            }
        }
        _last = (version, share);
        return share;
    }
}
