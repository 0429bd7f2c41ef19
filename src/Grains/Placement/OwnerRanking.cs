using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Text;
using Orleans.Runtime;

namespace CacheCluster.Grains.Placement;

/// <summary>
/// Rendezvous (highest-random-weight) hashing of cache keys over the live silos: each key's owner is the
/// silo with the highest score hash(key, silo). Adding or removing one of N silos moves only the keys whose
/// top score belonged to that silo, about 1/N of them (Orleans' HashBasedPlacement is a modulo and moves
/// most keys). Silos are scored by name when membership knows one (a restarted node with the same name
/// gets its keys, and its warm store, back), else by endpoint.
/// </summary>
public sealed class OwnerRanking(IClusterMembershipService membership, IClusterManifestProvider manifests)
{
    private readonly ConcurrentDictionary<SiloAddress, ulong> _seeds = new();
    private (ViewVersion Version, SiloAddress[] Active) _active = (default, []);

    /// <summary>The membership and grain-manifest versions a ranking was computed from.</summary>
    public readonly record struct ViewVersion(MembershipVersion Membership, Orleans.Metadata.MajorMinorVersion Manifest);

    /// <summary>The owner of <paramref name="key"/> among <paramref name="silos"/>.</summary>
    public SiloAddress OwnerOf(Guid key, IReadOnlyList<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new OrleansException("No silo is available to own cache entries.");
        SiloAddress best = silos[0];
        ulong bestScore = Score(key, best);
        for (int i = 1; i < silos.Count; i++)
        {
            var s = Score(key, silos[i]);
            if (s > bestScore || (s == bestScore && silos[i].CompareTo(best) > 0)) { best = silos[i]; bestScore = s; }
        }
        return best;
    }

    /// <summary>Owner and runner-up among the silos that are active now (runner-up null on a one-node cluster).</summary>
    public (SiloAddress Owner, SiloAddress? RunnerUp) OwnersNow(Guid key)
    {
        var active = ActiveSilos();
        SiloAddress? first = null, second = null;
        ulong s1 = 0, s2 = 0;
        foreach (var silo in active)
        {
            var s = Score(key, silo);
            if (first is null || s > s1) { second = first; s2 = s1; first = silo; s1 = s; }
            else if (second is null || s > s2) { second = silo; s2 = s; }
        }
        if (first is null) throw new OrleansException("No active silo in the membership view.");
        return (first, second);
    }

    /// <summary>True once membership has declared <paramref name="silo"/> dead (it never comes back under that address).</summary>
    public bool IsDead(SiloAddress silo) => membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead;

    public ViewVersion Version => new(membership.CurrentSnapshot.Version, manifests.Current.Version);

    /// <summary>
    /// Silos that may own keys: active members whose grain manifest this silo already knows. Placement
    /// only considers silos in the manifest, so ownership checks must use the same set or an activation
    /// would keep retiring towards a node that placement cannot pick yet.
    /// </summary>
    public SiloAddress[] ActiveSilos()
    {
        var snapshot = membership.CurrentSnapshot;
        var manifest = manifests.Current;
        var version = new ViewVersion(snapshot.Version, manifest.Version);
        var cached = _active;
        if (cached.Version == version && cached.Active.Length > 0) return cached.Active;
        var active = snapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && manifest.Silos.ContainsKey(m.SiloAddress))
            .Select(m => m.SiloAddress).ToArray();
        _active = (version, active);
        return active;
    }

    public ulong Score(Guid key, SiloAddress silo)
    {
        if (!_seeds.TryGetValue(silo, out var seed))
        {
            seed = SeedOf(silo, out var named);
            if (named) _seeds[silo] = seed; // an endpoint fallback is not cached: the name may arrive later
        }
        Span<byte> bytes = stackalloc byte[16];
        key.TryWriteBytes(bytes);
        return XxHash3.HashToUInt64(bytes, (long)seed);
    }

    private ulong SeedOf(SiloAddress silo, out bool named)
    {
        named = membership.CurrentSnapshot.Members.TryGetValue(silo, out var member) && !string.IsNullOrEmpty(member.Name);
        var name = named ? member!.Name : silo.Endpoint.ToString();
        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(name));
    }
}
