using System.Buffers.Binary;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

// Entries as the unit of storage: a header record names its body (generation, chunks) and a floor address at or
// below all of its records, so an entry is whole exactly while its floor is not below the log's begin address.
public sealed partial class EntryStore
{
    /// <summary>How long a reader's pin keeps an entry from eviction after a chunk read. Short: under churn the log
    /// turns over in seconds, and a pinned entry is copied forward on every turn.</summary>
    private static readonly TimeSpan PinTime = TimeSpan.FromSeconds(10);

    private readonly EntryIndex _index = new();

    /// <summary>Largest header a caller may store (a record's payload minus the store's prefix).</summary>
    public const int MaxHeaderBytes = MaxChunkBytes - HeaderRecord.PrefixBytes;

    /// <summary>
    /// The floor for an entry whose chunks are about to be written: every record written from now on lies at or
    /// above it. Take it before writing the first chunk and pass it to <see cref="WriteHeaderAsync(UInt128, ReadOnlyMemory{byte}, EntryExtent)"/>.
    /// </summary>
    public long ChunkFloor
    {
        get
        {
            var store = _store;
            return store is null ? 0 : store.Log.TailAddress;
        }
    }

    /// <summary>
    /// Writes (replaces) the header record of <paramref name="keyHash"/>, which makes the entry described by
    /// <paramref name="extent"/> visible. Write every chunk first.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="header"/> is longer than <see cref="MaxHeaderBytes"/>.</exception>
    public async ValueTask WriteHeaderAsync(UInt128 keyHash, ReadOnlyMemory<byte> header, EntryExtent extent)
    {
        if (header.Length > MaxHeaderBytes)
            throw new ArgumentException($"A header may hold at most {MaxHeaderBytes} bytes (got {header.Length}).", nameof(header));
        await WriteCore(keyHash, 0, 0, HeaderRecord.Encode(extent, header.Span)).ConfigureAwait(false);
        _index.Set(keyHash, extent, header.Length);
    }

    /// <summary>Writes a header with no body of its own (its floor is the current tail).</summary>
    public ValueTask WriteHeaderAsync(UInt128 keyHash, ReadOnlyMemory<byte> header) =>
        WriteHeaderAsync(keyHash, header, new EntryExtent(0, 0, 0, ChunkFloor));

    /// <summary>
    /// Reads the header of <paramref name="keyHash"/>; null when there is no whole entry (absent, deleted, evicted
    /// in part or whole, or corrupt). Unknown keys cost no I/O: the in-memory table is asked first.
    /// </summary>
    public async ValueTask<byte[]?> ReadHeaderAsync(UInt128 keyHash)
    {
        if (Volatile.Read(ref _state) != StateOpen)
            ThrowNotOpen();
        for (int attempt = 0; ; attempt++)
        {
            if (!_index.TryGet(keyHash, out var meta) || !IsAboveBegin(meta.Extent.Floor))
                return null;
            var payload = await ReadCore(keyHash, 0, 0).ConfigureAwait(false);
            if (payload is not null && HeaderRecord.TryDecode(payload, out var extent) && IsAboveBegin(extent.Floor))
                return payload.AsSpan(HeaderRecord.PrefixBytes).ToArray();
            // A read that began at the old record of an entry being copied forward finds it cut (or its old floor
            // below the begin address) once the copy is done: the entry table has moved on, so read again.
            if (attempt == 2 || !_index.TryGet(keyHash, out var now) || ReferenceEquals(now, meta))
                return null;
        }
    }

    /// <summary>True while the entry of <paramref name="keyHash"/> with body <paramref name="generation"/> is whole.</summary>
    public bool IsWhole(UInt128 keyHash, long generation) =>
        _index.TryGet(keyHash, out var meta) && meta.Extent.Generation == generation && IsAboveBegin(meta.Extent.Floor);

    /// <summary>Where the current whole entry of <paramref name="keyHash"/> is; false when there is none.</summary>
    public bool TryGetExtent(UInt128 keyHash, out EntryExtent extent)
    {
        if (_index.TryGet(keyHash, out var meta) && IsAboveBegin(meta.Extent.Floor))
        {
            extent = meta.Extent;
            return true;
        }

        extent = default;
        return false;
    }

    /// <summary>A hit on the entry: it counts toward keeping it when it nears eviction (CLOCK).</summary>
    public void NoteHit(UInt128 keyHash)
    {
        if (_index.TryGet(keyHash, out var meta) && _index.Use(meta))
            Rescue(keyHash, meta);
    }

    /// <summary>A reader is streaming the entry's chunks: it is copied forward rather than evicted meanwhile.</summary>
    public void Pin(UInt128 keyHash)
    {
        if (_index.TryGet(keyHash, out var meta) && _index.Pin(meta, DateTime.UtcNow.Add(PinTime).Ticks))
            Rescue(keyHash, meta);
    }

    /// <summary>A reader read the entry's last chunk: its pin ends (other readers renew it with their next read).</summary>
    public void Unpin(UInt128 keyHash)
    {
        if (_index.TryGet(keyHash, out var meta))
            _index.Pin(meta, 0);
    }

    /// <summary>Keys of every whole entry (management: purge by host, prefix or surrogate key; census).</summary>
    public IReadOnlyCollection<UInt128> ScanHeaderKeys(CancellationToken ct = default) =>
        Volatile.Read(ref _state) == StateOpen && IsHealthy ? _index.Keys.ToArray() : [];

    private void Rescue(UInt128 keyHash, EntryIndex.Meta meta)
    {
        _index.EnqueueRescue(keyHash, meta);
        WakeReinserter();
    }

    private bool IsAboveBegin(long floor)
    {
        var store = _store;
        return store is not null && floor >= store.Log.BeginAddress;
    }

    /// <summary>Rebuilds the entry table from the header records of a recovered log (newest record per key wins).</summary>
    private void LoadIndex(FasterKV<SpanByte, SpanByte> store)
    {
        _index.Clear();
        var found = new Dictionary<UInt128, (EntryExtent Extent, int HeaderBytes)>();
        long begin = store.Log.BeginAddress;
        int unreadable = 0;
        using (var iterator = store.Log.Scan(begin, store.Log.TailAddress))
        {
            while (iterator.GetNext(out var info))
            {
                var key = iterator.GetKey().AsReadOnlySpan();
                if (key.Length != RecordFormat.KeyBytes
                    || BinaryPrimitives.ReadInt64LittleEndian(key[16..]) != 0 || BinaryPrimitives.ReadInt32LittleEndian(key[24..]) != 0)
                {
                    continue; // a chunk record
                }

                var hash = ((UInt128)BinaryPrimitives.ReadUInt64LittleEndian(key[8..]) << 64) | BinaryPrimitives.ReadUInt64LittleEndian(key);
                if (info.Tombstone)
                {
                    found.Remove(hash);
                    continue;
                }

                var stored = iterator.GetValue().AsReadOnlySpan();
                if (stored.Length < RecordFormat.ChecksumBytes
                    || RecordFormat.Checksum(key, stored[RecordFormat.ChecksumBytes..]) != BinaryPrimitives.ReadUInt64LittleEndian(stored)
                    || !HeaderRecord.TryDecode(stored[RecordFormat.ChecksumBytes..], out var extent))
                {
                    found.Remove(hash);
                    unreadable++;
                    continue;
                }

                found[hash] = (extent, stored.Length - RecordFormat.ChecksumBytes - HeaderRecord.PrefixBytes);
            }
        }

        _index.Load(found.Where(e => e.Value.Extent.Floor >= begin).Select(e => (e.Key, e.Value.Extent, e.Value.HeaderBytes)));
        if (unreadable > 0)
            _logger.LogWarning("Store at {Dir}: {Count} header record(s) unreadable after recovery (corrupt or from an older version); those entries are gone",
                _options.Directory, unreadable);
    }
}
