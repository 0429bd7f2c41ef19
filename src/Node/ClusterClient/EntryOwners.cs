using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// Finds the owner grain of a cache key. Resolves the grain and interface types once: Orleans'
/// GetGrain&lt;T&gt;(Guid) resolves them by reflection on every call, which showed up as ~7% of a hit's CPU.
/// </summary>
public sealed class EntryOwners
{
    private readonly IGrainFactory _grains;
    private readonly GrainType _grainType;
    private readonly GrainInterfaceType _interfaceType;

    public EntryOwners(IGrainFactory grains)
    {
        _grains = grains;
        var sample = (GrainReference)grains.GetGrain<ICacheEntryGrain>(Guid.Empty);
        _interfaceType = sample.InterfaceType;
        _grainType = sample.GrainId.Type;
    }

    public ICacheEntryGrain For(string cacheKey) =>
        (ICacheEntryGrain)_grains.GetGrain(
            GrainId.Create(_grainType, GrainIdKeyExtensions.CreateGuidKey(CacheKeyHash.ToGrainKey(cacheKey))),
            _interfaceType);
}
