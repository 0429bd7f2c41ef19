using System.Collections.Concurrent;
using Orleans.Runtime;

namespace CacheCluster.Grains.Protocol.Owners;

/// <summary>
/// Owner addressing: ranks the live silos for a cache key by <see cref="Rendezvous"/> hashing. Placement puts a
/// key's grain on its owner (<see cref="OwnerPlacementDirector"/>); an activation that finds another owner after a
/// membership change migrates there (<see cref="IsOwnedElsewhere"/>); the new owner takes the entry over from the
/// runner-up (<see cref="PreviousOwner"/>). Silos are scored by name when membership knows one (a restarted node
/// with the same name gets its keys, and its warm store, back), else by endpoint.
/// </summary>
public sealed class OwnerRanking(IClusterMembershipService membership, IClusterManifestProvider manifests)
{
    private readonly ConcurrentDictionary<SiloAddress, ulong> _seeds = new();
    private (ViewVersion Version, SiloAddress[] Active) _active = (default, []);

    /// <summary>True once membership has declared <paramref name="silo"/> dead (it never comes back under that address).</summary>
    public bool IsDead(SiloAddress silo) => membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead;

    /// <summary>
    /// Whether the node whose per-node grain key is <paramref name="nodeKey"/> (its silo address) is an active member:
    /// a node shutting down or dead takes its hot copies with it, and a message to it would only fail (and be logged).
    /// </summary>
    public bool IsActiveNode(string nodeKey)
    {
        try { return membership.CurrentSnapshot.GetSiloStatus(SiloAddress.FromParsableString(nodeKey)) == SiloStatus.Active; }
        catch (FormatException) { return true; } // not a silo address: let the call decide
    }

    /// <summary>The membership and grain-manifest versions a ranking was computed from.</summary>
    public readonly record struct ViewVersion(MembershipVersion Membership, Orleans.Metadata.MajorMinorVersion Manifest);

    /// <summary>The owner of <paramref name="key"/> among <paramref name="silos"/>.</summary>
    public SiloAddress OwnerOf(Guid key, IReadOnlyList<SiloAddress> silos)
    {
        if (silos.Count == 0) throw new OrleansException("No silo is available to own cache entries.");
        return Rendezvous.Rank(key, silos, SeedOf, Comparer<SiloAddress>.Default).Owner;
    }

    /// <summary>Owner and runner-up among the silos that are active now (runner-up null on a one-node cluster).</summary>
    public (SiloAddress Owner, SiloAddress? RunnerUp) OwnersNow(Guid key)
    {
        var active = ActiveSilos();
        if (active.Length == 0) throw new OrleansException("No active silo in the membership view.");
        return Rendezvous.Rank(key, active, SeedOf, Comparer<SiloAddress>.Default);
    }

    /// <summary>
    /// The node that held <paramref name="key"/> before <paramref name="self"/> took it over (the runner-up), or null:
    /// no view yet, a one-node cluster, or <paramref name="self"/> is itself the runner-up.
    /// </summary>
    public SiloAddress? PreviousOwner(Guid key, SiloAddress self)
    {
        SiloAddress? previous;
        try { previous = OwnersNow(key).RunnerUp; }
        catch (OrleansException) { return null; }
        return previous is null || previous.Equals(self) ? null : previous;
    }

    /// <summary>Whether another silo owns <paramref name="key"/> now (false while there is no view yet: keep serving here).</summary>
    public bool IsOwnedElsewhere(Guid key, SiloAddress self, out SiloAddress? owner)
    {
        owner = null;
        try { owner = OwnersNow(key).Owner; }
        catch (OrleansException) { return false; }
        return !owner.Equals(self);
    }

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

    private ulong SeedOf(SiloAddress silo)
    {
        if (_seeds.TryGetValue(silo, out var seed)) return seed;
        bool named = membership.CurrentSnapshot.Members.TryGetValue(silo, out var member) && !string.IsNullOrEmpty(member.Name);
        seed = Rendezvous.SeedOf(named ? member!.Name : silo.Endpoint.ToString());
        if (named) _seeds[silo] = seed; // an endpoint fallback is not cached: the name may arrive later
        return seed;
    }
}
