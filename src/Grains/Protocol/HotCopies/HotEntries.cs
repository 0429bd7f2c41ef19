using System.Collections.Concurrent;
using CacheCluster.Contracts.Entries;

namespace CacheCluster.Grains.Protocol.HotCopies;

/// <summary>
/// This node's small in-memory copy of the hottest entries it serves (groupcache's "hot cache"), so one very
/// popular object does not send every request through its owner. A copy is registered with the owner when it
/// is taken; the owner tells every registered node to drop it the moment the entry is replaced, invalidated
/// or the owner's activation goes away. As a backstop, a copy is held at most <see cref="MaxHold"/> and never
/// past its freshness (the caller still judges freshness per request). The owner's side: <see cref="HotCopyRegistry"/>.
/// Admission is TinyLFU's: a key is copied from its second request here, and once the budget is full only if it
/// was requested more often lately than the oldest copies it would push out. With plain FIFO every popular-enough
/// object of a Zipf mix cycled through (on bench/zipf.sh ~6 KiB copied per request, all of it dying in gen2, about
/// 240 MiB of RSS); with this gate copies are rare and the set of hot copies holds still.
/// </summary>
public sealed class HotEntries(long budgetBytes, long maxObjectBytes, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Longest a copy lives without asking the owner again (covers an owner lost in a crash).</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromSeconds(60);

    private const int MaxTrackedKeys = 100_000; // dropped keys remembered

    private readonly ConcurrentDictionary<string, HotEntry> _entries = new(StringComparer.Ordinal);
    // Admission order by key and copy number: a copy dropped, expired or replaced since stays queued until it
    // reaches the front, so the queue must not hold the copy itself (its chunks would outlive it).
    private readonly Queue<(string Key, long Id)> _order = new();
    private long _lastId;
    private readonly Lock _admit = new();
    // Sized for copies of ~4 KiB: more keys than the budget can hold, so the gate can tell them apart.
    private readonly FrequencySketch _seen = new((int)Math.Min(1 << 20, Math.Max(1024, budgetBytes / 4096)));
    private readonly ConcurrentDictionary<string, DateTime> _dropped = new(StringComparer.Ordinal);
    private long _bytes;

    public bool Enabled => budgetBytes > 0;
    public long Bytes => Interlocked.Read(ref _bytes);
    public int Count => _entries.Count;

    public sealed class HotEntry(EntryHead head, byte[][] chunks, DateTime expiresUtc, string? key = null, long id = 0)
    {
        public string Key { get; } = key ?? head.CacheKey;
        internal long Id { get; } = id;
        public EntryHead Head { get; } = head;
        public byte[][] Chunks { get; } = chunks;
        public DateTime ExpiresUtc { get; } = expiresUtc;
        public long Size { get; } = head.BodyLength + 512 + head.Headers.Sum(h => (long)h.Length * 2);
    }

    public bool TryGet(string cacheKey, out HotEntry entry)
    {
        if (_entries.TryGetValue(cacheKey, out entry!))
        {
            if (UtcNow < entry.ExpiresUtc)
            {
                _seen.Increment(cacheKey); // a copy in use keeps its standing against newcomers
                return true;
            }
            Remove(cacheKey);
        }
        entry = null!;
        return false;
    }

    /// <summary>
    /// Counts a request for this key here; whether a hit on it should take a hot copy: requested here before, and
    /// either there is room or it is requested more often than the oldest copy (<see cref="Add"/> decides).
    /// </summary>
    public bool Sighted(string cacheKey)
    {
        if (!Enabled) return false;
        int seen = _seen.Increment(cacheKey);
        if (seen < 2) return false;
        if (Interlocked.Read(ref _bytes) < budgetBytes - budgetBytes / 16) return true;
        lock (_admit) return !_order.TryPeek(out var oldest) || seen > _seen.Estimate(oldest.Key);
    }

    public bool Fits(EntryHead head) => head.BodyLength >= 0 && head.BodyLength <= maxObjectBytes;

    /// <summary>
    /// Keeps a copy taken by a lookup that started at <paramref name="lookupStartedUtc"/>. Refused if the owner
    /// dropped this key after that lookup began (its drop message may overtake the copy).
    /// </summary>
    public void Add(string cacheKey, EntryHead head, byte[][] chunks, TimeSpan freshFor, DateTime lookupStartedUtc)
    {
        if (freshFor <= TimeSpan.Zero || !Fits(head)) return;
        if (_dropped.TryGetValue(cacheKey, out var droppedAt) && droppedAt >= lookupStartedUtc) return;
        var entry = new HotEntry(head, chunks, UtcNow + (freshFor < MaxHold ? freshFor : MaxHold), cacheKey, Interlocked.Increment(ref _lastId));
        if (entry.Size > budgetBytes) return;
        lock (_admit)
        {
            if (!MakeRoom(entry)) return;
            if (_entries.TryRemove(cacheKey, out var old)) Interlocked.Add(ref _bytes, -old.Size);
            _entries[cacheKey] = entry;
            Interlocked.Add(ref _bytes, entry.Size);
            _order.Enqueue((cacheKey, entry.Id));
            if (_order.Count > 2 * _entries.Count + 1024) Compact();
        }
    }

    /// <summary>
    /// Frees room for <paramref name="candidate"/> from the oldest copies, if it is requested more often than each
    /// of them (a replaced copy of the same key always gives way); otherwise nothing changes and it is refused.
    /// </summary>
    private bool MakeRoom(HotEntry candidate)
    {
        long need = Interlocked.Read(ref _bytes) + candidate.Size - budgetBytes;
        if (_entries.TryGetValue(candidate.Key, out var same)) need -= same.Size;
        if (need <= 0) return true;
        int want = _seen.Estimate(candidate.Key), victims = 0;
        long freed = 0;
        foreach (var queued in _order)
        {
            if (freed >= need) break;
            victims++;
            if (Current(queued) is not { } oldest || oldest.Key == candidate.Key) continue;
            if (_seen.Estimate(oldest.Key) >= want) return false;
            freed += oldest.Size;
        }
        if (freed < need) return false;
        for (int i = 0; i < victims; i++)
        {
            var victim = _order.Dequeue();
            if (Current(victim) is not null && victim.Key != candidate.Key) Remove(victim.Key);
        }
        return true;
    }

    private HotEntry? Current((string Key, long Id) queued) =>
        _entries.TryGetValue(queued.Key, out var now) && now.Id == queued.Id ? now : null;

    /// <summary>Drops the queue's records of copies no longer held (dropped, expired, replaced).</summary>
    private void Compact()
    {
        var live = _order.Where(q => Current(q) is not null).ToArray();
        _order.Clear();
        foreach (var e in live) _order.Enqueue(e);
    }

    /// <summary>The owner says the entry changed: drop the copy and refuse copies from lookups already under way.</summary>
    public void Drop(string cacheKey)
    {
        if (_dropped.Count > MaxTrackedKeys) _dropped.Clear();
        _dropped[cacheKey] = UtcNow;
        Remove(cacheKey);
    }

    /// <summary>Management purge: drops (as <see cref="Drop"/>) every copy whose head matches; returns how many.</summary>
    public int DropWhere(Func<EntryHead, bool> matches)
    {
        int n = 0;
        foreach (var (key, entry) in _entries)
            if (matches(entry.Head)) { Drop(key); n++; }
        return n;
    }

    private DateTime UtcNow => _time.GetUtcNow().UtcDateTime;

    public void Remove(string cacheKey)
    {
        if (_entries.TryRemove(cacheKey, out var old)) Interlocked.Add(ref _bytes, -old.Size);
    }
}
