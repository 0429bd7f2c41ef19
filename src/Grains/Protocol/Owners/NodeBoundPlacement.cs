using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace CacheCluster.Grains.Protocol.Owners;

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
