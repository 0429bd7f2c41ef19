using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// Owner of one URL's cache entry, keyed by <see cref="CacheKeyHash.ToGrainKey"/> of the cache key.
/// The entry's bytes live in the FASTER store of the node that hosts this grain; every node reaches the
/// entry only through this grain, so the same code works when the owner is on another node.
/// </summary>
public interface ICacheEntryGrain : IGrainWithGuidKey
{
    /// <summary>The stored head (and first chunk) for this key, or <see cref="LookupResult.Miss"/>.</summary>
    Task<LookupResult> LookupAsync(string cacheKey);

    /// <summary>Body chunk <paramref name="index"/> of the stored generation; null when it is gone (evicted or replaced).</summary>
    Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index);

    /// <summary>Starts storing a new response; null when another fill of this URL is already running.</summary>
    Task<FillLease?> BeginFillAsync(string cacheKey);

    /// <summary>Appends the next body chunk; chunks arrive in order, each exactly ChunkBytes except the last.</summary>
    Task AppendChunkAsync(long fillId, int index, Immutable<byte[]> data);

    /// <summary>
    /// Commits a fill whose body was read to its end: the head becomes visible to lookups atomically.
    /// Returns false (and stores nothing) when the chunks received do not add up to the head's BodyLength.
    /// </summary>
    Task<bool> CommitFillAsync(long fillId, EntryHead head);

    /// <summary>Abandons a fill: nothing of it is ever served.</summary>
    Task AbortFillAsync(long fillId);

    /// <summary>Removes the stored entry; returns whether there was one.</summary>
    Task<bool> InvalidateAsync();
}
