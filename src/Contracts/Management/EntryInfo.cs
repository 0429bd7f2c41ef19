using CacheCluster.Contracts.Entries;

namespace CacheCluster.Contracts.Management;

/// <summary>An entry as its owner grain sees it: the head (null when nothing is stored), hits, owner node name.</summary>
[GenerateSerializer, Immutable]
public sealed record EntryInfo(
    [property: Id(0)] EntryHead? Head,
    [property: Id(1)] long Hits,
    [property: Id(2)] string Owner);
