using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace CacheCluster.Grains.Protocol.Owners;

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
