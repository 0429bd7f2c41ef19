using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// Owner of one URL's cache entry, keyed by <see cref="CacheKeyHash.ToGrainKey"/> of the cache key and
/// placed on the key's rendezvous-hash owner node. The entry's bytes live in that node's FASTER store;
/// every node reaches the entry only through this grain. The grain also runs the URL's single-flight:
/// one fill (origin fetch) at a time, which other requests anywhere in the cluster follow as it streams.
/// </summary>
public interface ICacheEntryGrain : IGrainWithGuidKey
{
    /// <summary>
    /// The stored head (and first chunk), if any. When nothing is stored and <paramref name="wantFill"/> is
    /// set, the result also carries a fill ticket: either a lease (go to the origin) or a fill to follow.
    /// A non-null <paramref name="hotCopyNode"/> (an <see cref="INodeGrain"/> key) registers that node as
    /// holding a hot copy, to be dropped when the entry changes.
    /// </summary>
    Task<LookupResult> LookupAsync(string cacheKey, bool wantFill, string? hotCopyNode = null);

    /// <summary>Body chunk <paramref name="index"/> of a committed generation; null when it is gone (evicted or replaced).</summary>
    Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index);

    /// <summary>
    /// Asks to fetch and store a new response for the stored entry the caller saw (identified by its
    /// <see cref="EntryHead.StoredAtUnixMs"/>; e.g. it is stale): a lease, a running fill to follow, or
    /// <see cref="FillTicket.EntryChanged"/> when that entry was replaced or refreshed meanwhile.
    /// </summary>
    Task<FillTicket> BeginFillAsync(string cacheKey, long seenStoredAtUnixMs);

    /// <summary>The leader tells followers what the origin answered: stream it, fetch it yourselves, or fail with this error.</summary>
    Task PublishAsync(long fillId, FillOutcome outcome);

    /// <summary>Appends the next body chunk; chunks arrive in order, each exactly ChunkBytes except the last.</summary>
    Task AppendChunkAsync(long fillId, int index, Immutable<byte[]> data);

    /// <summary>
    /// Commits a fill whose body was read to its end: the published head becomes the stored entry, visible
    /// to lookups at once. Returns false (and stores nothing) when the chunks do not add up to <paramref name="bodyLength"/>.
    /// </summary>
    Task<bool> CommitFillAsync(long fillId, long bodyLength);

    /// <summary>
    /// Ends a revalidation that the origin answered with 304: the stored entry (same body) gets the updated
    /// head, and followers are served that entry. False when the stored entry changed meanwhile.
    /// </summary>
    Task<bool> RefreshFillAsync(long fillId, EntryHead refreshed);

    /// <summary>
    /// Ends a fill whose response varies: <paramref name="marker"/> (a <see cref="VaryMarker"/>) becomes the
    /// URL's stored head, and followers are told to look up again and follow the fill of their own variant.
    /// </summary>
    Task<bool> CommitVaryAsync(long fillId, EntryHead marker);

    /// <summary>
    /// Records a variant key under the Vary marker of that epoch, so invalidating the URL removes it. False
    /// when there is no such marker any more (do not store the variant) or it has <see cref="VaryMarker.MaxVariants"/>.
    /// </summary>
    Task<bool> RegisterVariantAsync(string epoch, string variantKey);

    /// <summary>Abandons a fill: nothing of it is ever served; followers mid-body are cut off.</summary>
    Task AbortFillAsync(long fillId);

    /// <summary>A follower waits for the leader's outcome (or is told to fetch on its own after a while).</summary>
    [ResponseTimeout("00:00:45")] // waits up to 20 s by design: longer than the default call timeout
    Task<FillOutcome> FollowAsync(long fillId);

    /// <summary>A follower reads chunk <paramref name="index"/> of a fill, waiting for it to arrive.</summary>
    [ResponseTimeout("00:00:45")] // waits for a slow origin's next chunk, up to the fill stall limit (30 s)
    Task<FollowChunk> FollowChunkAsync(long fillId, long generation, int index);

    /// <summary>Removes the stored entry (for a varying URL: its marker and every variant); returns how many entries went.</summary>
    Task<int> InvalidateAsync();

    /// <summary>Management: the stored head (no body), lookups that found it since this activation, the owner node.</summary>
    Task<CacheCluster.Contracts.Management.EntryInfo> InspectAsync();
}
