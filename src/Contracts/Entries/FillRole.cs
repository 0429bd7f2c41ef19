using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// The caller's part in a URL's <b>fill</b> (the one origin fetch the owner lets run at a time; every other
/// request for the URL follows it). <see cref="IsLeader"/>: this caller runs the fill (fetch, publish, append,
/// commit under <see cref="FillId"/>); otherwise it follows fill <see cref="FillId"/>.
/// <see cref="EntryChanged"/>: neither — the stored entry the caller wanted to replace has already been replaced
/// or refreshed (by a fill that ended between its lookup and this ask): look it up again instead of fetching.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FillRole(
    [property: Id(0)] long FillId,
    [property: Id(1)] bool IsLeader,
    [property: Id(2)] int ChunkBytes,
    [property: Id(3)] bool EntryChanged = false);
