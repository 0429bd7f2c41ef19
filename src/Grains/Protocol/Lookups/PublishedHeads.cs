using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;

namespace CacheCluster.Grains.Protocol.Lookups;

/// <summary>
/// Heads the owner grains on this node vouch for, so that a lookup on the owner's own node reads a whole, unchanged
/// entry straight from the store instead of calling into the grain (docs/protocol.md, "Local lookups"). The grain
/// stays the only writer and the authority: it publishes its head after a lookup found it whole, and withdraws it
/// before the head changes or goes (commit, refresh, Vary marker, drop, invalidation).
/// A head outlives its activation: an idle entry then costs this table's slot instead of an activation, and its hits
/// need none; the next activation of the key takes the head back (<see cref="Reclaim"/>) before it does anything else.
/// A published head answers only under the ownership view it was published in, only while the store still holds
/// that generation whole, and only for bodies a lookup carries whole; anything else asks the grain. The table holds
/// at most <c>maxHeads</c> heads: beyond that, heads whose entry is gone are dropped first, then arbitrary ones (their
/// keys' lookups ask the grain again).
/// </summary>
public sealed class PublishedHeads(EntryStore store, OwnerRanking ranking, ILocalSiloDetails localSilo, int maxHeads)
{
    private readonly ConcurrentDictionary<string, Published> _heads = new(StringComparer.Ordinal);
    private readonly string _owner = localSilo.Name;
    private int _count;    // kept by hand: ConcurrentDictionary.Count takes every lock of the table
    private int _trimming; // 1 while a trim is queued or running
    private long _answered;

    /// <summary>One grain's published head. <see cref="Hits"/> counts the lookups it answered (the grain's inspect adds them).</summary>
    public sealed class Published(EntryHead head, UInt128 keyHash, OwnerRanking.ViewVersion version)
    {
        public EntryHead Head { get; } = head;
        public UInt128 KeyHash { get; } = keyHash;
        public OwnerRanking.ViewVersion Version { get; } = version;
        internal long Hits;
        public long HitCount => Interlocked.Read(ref Hits);
    }

    /// <summary>Heads published now (one per entry found whole by its grain here, kept after that grain was collected).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Lookups answered here without a call into the grain, since the node started.</summary>
    public long Answered => Interlocked.Read(ref _answered);

    /// <summary>Whether a head of this size is worth publishing: its whole body comes with one lookup.</summary>
    public static bool Publishable(EntryHead head) => head.BodyLength <= LookupResult.WholeBodyLimit;

    /// <summary>Publishes <paramref name="head"/> (the grain's turn; it owns the key under <paramref name="version"/>).</summary>
    public Published Publish(EntryHead head, UInt128 keyHash, OwnerRanking.ViewVersion version)
    {
        var published = new Published(head, keyHash, version);
        if (_heads.TryAdd(head.CacheKey, published)) Interlocked.Increment(ref _count);
        else _heads[head.CacheKey] = published;
        // Over the limit: trimmed on a pool thread, once at a time (a grain's turn never walks the table).
        if (Volatile.Read(ref _count) > maxHeads && Interlocked.CompareExchange(ref _trimming, 1, 0) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.Trim(), this, preferLocal: false);
        return published;
    }

    /// <summary>Whether <paramref name="published"/> is still the head published for its key (not trimmed or replaced).</summary>
    public bool IsPublished(Published published) =>
        _heads.TryGetValue(published.Head.CacheKey, out var current) && ReferenceEquals(current, published);

    /// <summary>
    /// A new activation of <paramref name="cacheKey"/>'s grain takes back what an earlier one left published: it is
    /// withdrawn (the new activation publishes again on its next lookup hit) and its hits are returned for the count.
    /// </summary>
    public long Reclaim(string cacheKey)
    {
        if (!_heads.TryRemove(cacheKey, out var left)) return 0;
        Interlocked.Decrement(ref _count);
        return left.HitCount;
    }

    /// <summary>Back to 7/8 of the limit: heads whose entry the store no longer holds whole first, then any.</summary>
    private void Trim()
    {
        try
        {
            int target = maxHeads - maxHeads / 8;
            foreach (var (key, head) in _heads)
                if (!store.IsWhole(head.KeyHash, head.Head.Generation)) Remove(key, head);
            foreach (var (key, head) in _heads)
            {
                if (Volatile.Read(ref _count) <= target) break;
                Remove(key, head);
            }
        }
        catch (Exception) { /* the store closing: the next publish over the limit trims again */ }
        finally { Volatile.Write(ref _trimming, 0); }
    }

    /// <summary>Withdraws <paramref name="published"/>, if it is still the one published for its key.</summary>
    public void Withdraw(Published published) => Remove(published.Head.CacheKey, published);

    private bool Remove(string cacheKey, Published published)
    {
        if (!_heads.TryRemove(new KeyValuePair<string, Published>(cacheKey, published))) return false;
        Interlocked.Decrement(ref _count);
        return true;
    }

    /// <summary>
    /// The answer the owner grain would give for <paramref name="cacheKey"/>, read from this node's store; null when
    /// the grain must be asked (nothing published, ownership changed since, the entry replaced or cut by eviction, a
    /// chunk unreadable, the store failing: the grain then decides, drops or reports).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: a read from disk allocates no box
    public async ValueTask<LookupResult?> TryLookUpAsync(string cacheKey)
    {
        if (!_heads.TryGetValue(cacheKey, out var published) || published.Version != ranking.Version) return null;
        var head = published.Head;
        var keyHash = published.KeyHash;
        if (!store.IsWhole(keyHash, head.Generation)) return null;
        byte[]? first = null;
        byte[][]? more = null;
        try
        {
            if (head.BodyLength > 0)
            {
                if ((first = await store.ReadChunkAsync(keyHash, head.Generation, 0)) is null) return null;
                if (head.ChunkCount > 1)
                {
                    more = new byte[head.ChunkCount - 1][];
                    for (int i = 1; i < head.ChunkCount; i++)
                        if ((more[i - 1] = (await store.ReadChunkAsync(keyHash, head.Generation, i))!) is null) return null;
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException) { return null; } // the grain reports it
        store.NoteHit(keyHash);
        Interlocked.Increment(ref published.Hits);
        Interlocked.Increment(ref _answered);
        return new LookupResult(head, first, null, _owner, more);
    }
}
