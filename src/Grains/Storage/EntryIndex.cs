using System.Collections.Concurrent;
namespace CacheCluster.Grains.Storage;

/// <summary>
/// Where one stored entry's records are: its body generation, chunk count and size, and its <see cref="Floor"/>,
/// a log address at or below every record of the entry (chunks and header). The entry is whole exactly while the
/// floor is at or above the log's begin address: eviction cuts the log from below, so it takes whole entries.
/// </summary>
/// <param name="Generation">Body generation of the chunks (0: a header with no body of its own).</param>
/// <param name="Chunks">Number of body chunk records.</param>
/// <param name="BodyBytes">Body length in bytes.</param>
/// <param name="Floor">Log address at or below every record of the entry.</param>
public readonly record struct EntryExtent(long Generation, int Chunks, long BodyBytes, long Floor);

/// <summary>
/// The store's in-memory table of whole entries (one per key hash with a header record), and the order in which
/// they will reach the log's begin address. It drives entry-level eviction (CLOCK over the log: an entry that was
/// used since it was last written is copied forward whole instead of being evicted) and the true entry metrics.
/// About 150 bytes per entry (see docs/architecture.md, "Memory").
/// </summary>
/// <remarks>Reads are lock-free; every change holds one lock (header writes happen at fill rate, not hit rate).</remarks>
internal sealed class EntryIndex
{
    /// <summary>One entry. Replaced, never changed, when the entry is rewritten or copied forward; only the
    /// usage fields change in place.</summary>
    internal sealed class Meta(EntryExtent extent, int headerBytes)
    {
        public readonly EntryExtent Extent = extent;
        public readonly int HeaderBytes = headerBytes;
        /// <summary>CLOCK counter: hits since the entry was last written or copied forward (saturates at <see cref="MaxUses"/>).</summary>
        public int Uses;
        /// <summary>UTC ticks until which a reader is streaming the entry (it is copied forward rather than evicted).</summary>
        public long PinnedUntil;
        /// <summary>0 queued; 1 passed by the reinserter and left to eviction; 2 rescued (used again since).</summary>
        public int State;

        public long Bytes => Extent.BodyBytes + HeaderBytes;
    }

    /// <summary>Most uses an entry banks: a large entry needs all of them to be copied forward once. Each copy costs a
    /// write of the whole entry, and under churn the log turns over in seconds.</summary>
    public const int MaxUses = 3;

    /// <summary>Entries up to this size need one use to be copied forward.</summary>
    public const long SmallEntryBytes = 16 * 1024;

    /// <summary>Entries larger than this need <see cref="MaxUses"/> uses to be copied forward; between the two sizes, two.</summary>
    public const long LargeEntryBytes = 256 * 1024;

    /// <summary>
    /// Uses an entry spends to be copied forward once: more for larger entries, since a copy costs its size in writes
    /// and one 2 MiB copy would keep a hundred small entries. Simulated on the Zipf mix with hot copies in front
    /// (bench/zipf.sh; 1 use up to 256 KiB, 2 above, was the rule): request hit ratio 0.844 -> 0.858, byte hit ratio
    /// 0.815 -> 0.809, bytes copied forward per byte filled 0.63 -> 0.28.
    /// </summary>
    public static int UsesToKeep(Meta meta) => meta.Bytes <= SmallEntryBytes ? 1 : meta.Bytes <= LargeEntryBytes ? 2 : MaxUses;

    private readonly ConcurrentDictionary<UInt128, Meta> _entries = new();
    private readonly object _lock = new();
    // Entries by floor: the next ones to reach the begin address first. Ordered by floor, not by when they were
    // written: a long fill, or a copy that finished after a later one, has an older floor than entries written
    // before it, and must be decided before the cut reaches it.
    private readonly PriorityQueue<(UInt128 Key, Meta Meta), long> _byAge = new();
    // Entries the reinserter passed over (unused): they wait here for eviction, unless used again (rescued).
    private readonly Queue<(UInt128 Key, Meta Meta)> _doomed = new();
    private readonly Queue<(UInt128 Key, Meta Meta)> _rescued = new();
    private long _bodyBytes;
    private long _evictedEntries;
    private long _evictedBytes;

    public int Count => _entries.Count;
    public long BodyBytes => Interlocked.Read(ref _bodyBytes);
    public long EvictedEntries => Interlocked.Read(ref _evictedEntries);
    public long EvictedBytes => Interlocked.Read(ref _evictedBytes);

    public bool TryGet(UInt128 key, out Meta meta) => _entries.TryGetValue(key, out meta!);

    public IReadOnlyCollection<UInt128> Keys => (IReadOnlyCollection<UInt128>)_entries.Keys;

    /// <summary>Records a header write (new entry, replacement or rewrite).</summary>
    public Meta Set(UInt128 key, EntryExtent extent, int headerBytes)
    {
        var meta = new Meta(extent, headerBytes);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var old))
                _bodyBytes -= old.Extent.BodyBytes;
            _entries[key] = meta;
            _bodyBytes += extent.BodyBytes;
            _byAge.Enqueue((key, meta), meta.Extent.Floor);
        }

        return meta;
    }

    /// <summary>Replaces <paramref name="old"/> by its copy at a higher floor, unless the entry changed meanwhile.</summary>
    public bool Moved(UInt128 key, Meta old, long newFloor)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var current) || !ReferenceEquals(current, old))
                return false;
            var moved = new Meta(old.Extent with { Floor = newFloor }, old.HeaderBytes)
            {
                // CLOCK: a copy spends one use, so only entries used again keep moving.
                Uses = Math.Max(Volatile.Read(ref old.Uses) - UsesToKeep(old), 0),
                PinnedUntil = Volatile.Read(ref old.PinnedUntil),
            };
            _entries[key] = moved;
            _byAge.Enqueue((key, moved), moved.Extent.Floor);
            return true;
        }
    }

    public void Remove(UInt128 key)
    {
        lock (_lock)
        {
            if (_entries.TryRemove(key, out var old))
                _bodyBytes -= old.Extent.BodyBytes;
        }
    }

    /// <summary>A hit: one more use (CLOCK); an entry already left to eviction is rescued.</summary>
    public bool Use(Meta meta)
    {
        if (Volatile.Read(ref meta.Uses) < MaxUses)
            Interlocked.Increment(ref meta.Uses);
        return Volatile.Read(ref meta.Uses) >= UsesToKeep(meta) && Rescue(meta);
    }

    /// <summary>A reader is streaming the entry: keep it (copy it forward if need be) until <paramref name="untilTicks"/>.</summary>
    public bool Pin(Meta meta, long untilTicks)
    {
        Volatile.Write(ref meta.PinnedUntil, untilTicks);
        return untilTicks > 0 && Rescue(meta);
    }

    private static bool Rescue(Meta meta) => Volatile.Read(ref meta.State) == 1 && Interlocked.CompareExchange(ref meta.State, 2, 1) == 1;

    public void EnqueueRescue(UInt128 key, Meta meta)
    {
        lock (_lock)
            _rescued.Enqueue((key, meta));
    }

    /// <summary>
    /// The next entry the reinserter must decide about: a rescued one, or the oldest one whose floor is below
    /// <paramref name="line"/>. Entries no longer current are skipped. Unused ones are moved to the doomed queue
    /// here (returned with <c>keep: false</c> never: the caller only sees the ones worth copying).
    /// </summary>
    public bool TryNextToKeep(long line, long nowTicks, out UInt128 key, out Meta meta)
    {
        lock (_lock)
        {
            while (_rescued.TryDequeue(out var r))
            {
                if (IsCurrent(r.Key, r.Meta) && r.Meta.Extent.Floor < line)
                {
                    (key, meta) = r;
                    return true;
                }
            }

            while (_byAge.TryPeek(out var item, out long floor) && floor < line)
            {
                _byAge.Dequeue();
                if (!IsCurrent(item.Key, item.Meta))
                    continue;
                if (Volatile.Read(ref item.Meta.Uses) >= UsesToKeep(item.Meta) || Volatile.Read(ref item.Meta.PinnedUntil) > nowTicks)
                {
                    (key, meta) = item;
                    return true;
                }

                Volatile.Write(ref item.Meta.State, 1);
                _doomed.Enqueue(item);
            }
        }

        (key, meta) = (default, null!);
        return false;
    }

    /// <summary>Forgets every entry whose floor is below the new begin address (their records are gone).</summary>
    public void Evicted(long begin)
    {
        lock (_lock)
        {
            while (_doomed.TryPeek(out var item) && item.Meta.Extent.Floor < begin)
                Forget(_doomed.Dequeue());
            while (_byAge.TryPeek(out var item, out long floor) && floor < begin)
                Forget(_byAge.Dequeue());
        }

        void Forget((UInt128 Key, Meta Meta) item)
        {
            if (!IsCurrent(item.Key, item.Meta))
                return;
            _entries.TryRemove(item.Key, out _);
            _bodyBytes -= item.Meta.Extent.BodyBytes;
            _evictedEntries++;
            _evictedBytes += item.Meta.Bytes;
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _entries.Clear();
            _byAge.Clear();
            _doomed.Clear();
            _rescued.Clear();
            _bodyBytes = 0;
        }
    }

    /// <summary>Fills the table after recovery, oldest floor first.</summary>
    public void Load(IEnumerable<(UInt128 Key, EntryExtent Extent, int HeaderBytes)> entries)
    {
        lock (_lock)
        {
            foreach (var (key, extent, headerBytes) in entries.OrderBy(e => e.Extent.Floor))
            {
                var meta = new Meta(extent, headerBytes);
                _entries[key] = meta;
                _bodyBytes += extent.BodyBytes;
                _byAge.Enqueue((key, meta), meta.Extent.Floor);
            }
        }
    }

    private bool IsCurrent(UInt128 key, Meta meta) => _entries.TryGetValue(key, out var current) && ReferenceEquals(current, meta);
}
