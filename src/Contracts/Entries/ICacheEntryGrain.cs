using CacheCluster.Contracts.Management;
using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// Owner of one URL's cache entry, keyed by <see cref="CacheKeyHash.ToGrainKey"/> of the cache key and
/// placed on the key's rendezvous-hash owner node. The entry's bytes live in that node's FASTER store;
/// every node reaches the entry only through this grain. The grain also runs the URL's single-flight:
/// one fill (origin fetch) at a time, which other requests anywhere in the cluster follow as it streams.
/// The messages, who sends them and their timeouts: docs/protocol.md.
/// </summary>
public interface ICacheEntryGrain : IGrainWithGuidKey
{
    /// <summary>
    /// The stored head (and first chunk), if any. When nothing is stored and <paramref name="wantFill"/> is
    /// set, the result also carries a <see cref="FillRole"/>: lead the URL's fill (go to the origin) or follow the running one.
    /// A non-null <paramref name="hotCopyNode"/> (an <see cref="INodeGrain"/> key) registers that node as
    /// holding a hot copy, to be dropped when the entry changes.
    /// </summary>
    Task<LookupResult> LookupAsync(string cacheKey, bool wantFill, string? hotCopyNode = null);

    /// <summary>Body chunk <paramref name="index"/> of a committed generation; null when it is gone (evicted or replaced).</summary>
    Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index);

    /// <summary>
    /// Asks to fetch and store a new response for the stored entry the caller saw (identified by its
    /// <see cref="EntryHead.StoredAtUnixMs"/>; e.g. it is stale): lead a new fill, follow the running one, or
    /// <see cref="FillRole.EntryChanged"/> when that entry was replaced or refreshed meanwhile.
    /// </summary>
    Task<FillRole> BeginFillAsync(string cacheKey, long seenStoredAtUnixMs);

    /// <summary>The leader tells followers what the origin answered: stream it, fetch it yourselves, or fail with this error.
    /// <see cref="FillAck.NotCurrent"/> when the fill ended meanwhile (stop storing).</summary>
    Task<FillAck> PublishAsync(long fillId, FillOutcome outcome);

    /// <summary>Appends the next body chunk; chunks arrive in order, each exactly ChunkBytes except the last
    /// (anything else is a caller bug and throws). <see cref="FillAck.NotCurrent"/> when the fill ended meanwhile.</summary>
    Task<FillAck> AppendChunkAsync(long fillId, int index, Immutable<byte[]> data);

    /// <summary>
    /// Commits a fill whose body was read to its end, with its last chunk (<paramref name="lastChunk"/>, empty when
    /// every chunk was appended): the published head becomes the stored entry. Lookups that arrive while it is being
    /// written wait for it (a client asking again right after the leader's client is answered from the entry even
    /// when the leader did not wait for the commit). <see cref="FillAck.Refused"/> (nothing stored, the fill ends)
    /// when the chunks do not add up to <paramref name="bodyLength"/> or nothing was published.
    /// </summary>
    Task<FillAck> CommitFillAsync(long fillId, long bodyLength, Immutable<byte[]> lastChunk);

    /// <summary>
    /// Ends a revalidation that the origin answered with 304: the stored entry (same body) gets the updated
    /// head, and followers are served that entry. <see cref="FillAck.Refused"/> (the fill ends) when the stored
    /// entry changed meanwhile.
    /// </summary>
    Task<FillAck> RefreshFillAsync(long fillId, EntryHead refreshed);

    /// <summary>
    /// Ends a fill whose response varies: <paramref name="marker"/> (a <see cref="VaryMarker"/>) becomes the
    /// URL's stored head, and followers are told to look up again and follow the fill of their own variant.
    /// <see cref="FillAck.Refused"/> when <paramref name="marker"/> is not a Vary marker.
    /// </summary>
    Task<FillAck> CommitVaryAsync(long fillId, EntryHead marker);

    /// <summary>
    /// Records a variant key under the Vary marker of that epoch, so invalidating the URL removes it. False
    /// when there is no such marker any more (do not store the variant) or it has <see cref="VaryMarker.MaxVariants"/>.
    /// </summary>
    Task<bool> RegisterVariantAsync(string epoch, string variantKey);

    /// <summary>Abandons a fill: nothing of it is ever served; followers mid-body are cut off.</summary>
    Task AbortFillAsync(long fillId);

    /// <summary>A follower waits for the leader's outcome (or is told to fetch on its own after a while).</summary>
    [ResponseTimeout(FillLimits.FollowCallTimeout)] // waits up to FillLimits.FollowWait by design: longer than the default call timeout
    Task<FillOutcome> FollowAsync(long fillId);

    /// <summary>A follower reads chunk <paramref name="index"/> of a fill, waiting for it to arrive.</summary>
    [ResponseTimeout(FillLimits.FollowCallTimeout)] // waits for a slow origin's next chunk, up to FillLimits.StallLimit
    Task<FollowChunk> FollowChunkAsync(long fillId, long generation, int index);

    /// <summary>Removes the stored entry (for a varying URL: its marker and every variant); returns how many entries went.</summary>
    Task<int> InvalidateAsync();

    /// <summary>Management: the stored head (no body), lookups that found it since this activation, the owner node.</summary>
    Task<EntryInfo> InspectAsync();
}
