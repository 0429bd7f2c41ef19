using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace CacheCluster.Grains.Placement;

/// <summary>Places a cache-entry grain on its rendezvous-hash owner (<see cref="OwnerRanking"/>).</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class OwnerPlacement : PlacementStrategy
{
    public static readonly OwnerPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class OwnerPlacementAttribute() : PlacementAttribute(OwnerPlacement.Instance);

public sealed class OwnerPlacementDirector(OwnerRanking ranking) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        var key = target.GrainIdentity.GetGuidKey();
        return Task.FromResult(ranking.OwnerOf(key, silos));
    }
}

/// <summary>Places a per-node grain on the silo named by its key (<see cref="SiloAddress.ToParsableString"/>).</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class NodeBoundPlacement : PlacementStrategy
{
    public static readonly NodeBoundPlacement Instance = new();
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class NodeBoundPlacementAttribute() : PlacementAttribute(NodeBoundPlacement.Instance);

public sealed class NodeBoundPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silo = SiloAddress.FromParsableString(target.GrainIdentity.Key.ToString()!);
        foreach (var candidate in context.GetCompatibleSilos(target))
            if (candidate.Equals(silo)) return Task.FromResult(silo);
        throw new SiloUnavailableException($"Node {silo} is not an active member of the cluster.");
    }
}
