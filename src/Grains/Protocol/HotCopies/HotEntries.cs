using System.Collections.Concurrent;
using CacheCluster.Contracts.Entries;

namespace CacheCluster.Grains.Protocol.HotCopies;

/// <summary>
/// This node's small in-memory copy of the hottest entries it serves (groupcache's "hot cache"), so one very
/// popular object does not send every request through its owner. A copy is registered with the owner when it
/// is taken; the owner tells every registered node to drop it the moment the entry is replaced, invalidated
/// or the owner's activation goes away. As a backstop, a copy is held at most <see cref="MaxHold"/> and never
/// past its freshness (the caller still judges freshness per request). The owner's side: <see cref="HotCopyRegistry"/>.
/// </summary>
public sealed class HotEntries(long budgetBytes, long maxObjectBytes, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Longest a copy lives without asking the owner again (covers an owner lost in a crash).</summary>
    public static readonly TimeSpan MaxHold = TimeSpan.FromSeconds(60);

    private const int MaxTrackedKeys = 100_000;

    private readonly ConcurrentDictionary<string, HotEntry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly ConcurrentDictionary<string, int> _sightings = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTime> _dropped = new(StringComparer.Ordinal);
    private long _bytes;

    public bool Enabled => budgetBytes > 0;
    public long Bytes => Interlocked.Read(ref _bytes);
    public int Count => _entries.Count;

    public sealed class HotEntry(EntryHead head, byte[][] chunks, DateTime expiresUtc)
    {
        public EntryHead Head { get; } = head;
        public byte[][] Chunks { get; } = chunks;
        public DateTime ExpiresUtc { get; } = expiresUtc;
        public long Size { get; } = head.BodyLength + 512 + head.Headers.Sum(h => (long)h.Length * 2);
    }

    public bool TryGet(string cacheKey, out HotEntry entry)
    {
        if (_entries.TryGetValue(cacheKey, out entry!))
        {
            if (UtcNow < entry.ExpiresUtc) return true;
            Remove(cacheKey);
        }
        entry = null!;
        return false;
    }

    /// <summary>Whether this key was requested here before: a hit on it should take a hot copy.</summary>
    public bool Sighted(string cacheKey)
    {
        if (!Enabled) return false;
        if (_sightings.Count > MaxTrackedKeys) _sightings.Clear();
        return _sightings.AddOrUpdate(cacheKey, 1, (_, n) => n + 1) >= 2;
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
        var entry = new HotEntry(head, chunks, UtcNow + (freshFor < MaxHold ? freshFor : MaxHold));
        if (entry.Size > budgetBytes) return;
        if (_entries.TryGetValue(cacheKey, out var old)) { _entries.TryRemove(cacheKey, out _); Interlocked.Add(ref _bytes, -old.Size); }
        if (!_entries.TryAdd(cacheKey, entry)) return;
        Interlocked.Add(ref _bytes, entry.Size);
        _order.Enqueue(cacheKey);
        _sightings.TryRemove(cacheKey, out _);
        // Over budget: the oldest copies go first (a still-hot object is soon admitted again).
        while (Interlocked.Read(ref _bytes) > budgetBytes && _order.TryDequeue(out var victim)) Remove(victim);
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
