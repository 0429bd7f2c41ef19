using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// The node's cache-entry store: one FASTER key-value store (<c>FasterKV&lt;SpanByte, SpanByte&gt;</c>, one
/// hybrid log, no object log) shared by every cache-entry grain on the node. It stores opaque bytes: one header
/// record per key hash and body chunk records keyed by (key hash, generation, index).
/// </summary>
/// <remarks>
/// <para>Thread safety: every member may be called concurrently from any thread. FASTER sessions are not
/// thread-safe, so each call rents a pooled session for its duration. Calls never block a thread on I/O:
/// reads from memory complete synchronously, the rest awaits.</para>
/// <para>Eviction: the files under <see cref="StoreOptions.Directory"/> never exceed
/// <see cref="StoreOptions.DiskBudgetBytes"/>. When the log grows too long, whole segment files at its old end
/// are dropped (FIFO) and everything in them reads as missing at once. A record that is read while it sits in
/// the older half of what eviction keeps is copied to the tail, so entries that keep being read survive. Any
/// read may therefore return null for a record written earlier: callers must treat that as a miss.</para>
/// <para>Durability: a fold-over checkpoint is taken periodically, when much was written since the last one,
/// and on dispose; calls wait while a checkpoint runs (tens of milliseconds). After a crash the store comes
/// back as of the last checkpoint minus whatever the disk budget evicted after it; each record is either
/// intact or absent.</para>
/// <para>Chunk records are immutable: never write two different payloads under one (key hash, generation,
/// index); use <see cref="NewGeneration"/> for every new body.</para>
/// <para>Files: this one (sizing, the public calls, stats); EntryStore.Entries (entry extents, pins, hits),
/// .Reads, .Writes, .DiskBudget (admission, eviction), .Reinsert (copying used entries forward), .Checkpoints,
/// .Lifecycle (open, recover, close), .Faults (disk faults and reopening), .Sessions (session pool, helpers).</para>
/// </remarks>
public sealed partial class EntryStore : IAsyncDisposable
{
    private const int PageSizeBits = 20;
    private const long PageSize = 1L << PageSizeBits;
    private const int RecordInfoBytes = 8;
    private const int LengthPrefixBytes = 4;
    private const int KeyFieldBytes = LengthPrefixBytes + RecordFormat.KeyBytes; // 32, already 8-aligned

    /// <summary>Bytes one full chunk record occupies in the log: 16 of them fill a 1 MiB page exactly.</summary>
    internal const int MaxRecordBytes = 64 * 1024;

    /// <summary>
    /// Largest payload of one record (body chunk or header): 65536 minus the 8-byte record header, the 4+28-byte
    /// key, the 4-byte value length and the 8-byte checksum, so a full chunk record is exactly 64 KiB.
    /// </summary>
    public const int MaxChunkBytes = MaxRecordBytes - RecordInfoBytes - KeyFieldBytes - LengthPrefixBytes - RecordFormat.ChecksumBytes;

    /// <summary>Smallest accepted <see cref="StoreOptions.DiskBudgetBytes"/>: 16 MiB.</summary>
    public const long MinDiskBudgetBytes = 16L << 20;

    /// <summary>Largest accepted <see cref="StoreOptions.DiskBudgetBytes"/>: 16 TiB.</summary>
    public const long MaxDiskBudgetBytes = 16L << 40;

    /// <summary>Smallest accepted <see cref="StoreOptions.MemoryBudgetBytes"/>: 4 MiB (four 1 MiB pages).</summary>
    public const long MinMemoryBudgetBytes = 4 * PageSize;

    /// <summary>Largest accepted <see cref="StoreOptions.MemoryBudgetBytes"/>: 256 GiB.</summary>
    public const long MaxMemoryBudgetBytes = 256L << 30;

    private const long MinIndexBuckets = 1L << 12;
    private const long MaxIndexBuckets = 1L << 23;
    private const long BytesPerIndexBucket = 16 * 1024;
    private const long CheckpointMetadataBytes = 8 * 1024;  // info.dat files, ht.dat/ofb.dat sector padding
    private const long FileSlopBytes = 64 * 1024;           // sector-rounded partial page at the log tail
    private const long MarginBytes = 256 * 1024;
    private const long GenerationReserve = 1L << 30;
    private const ulong CookieMagic = 0x3147_4E45_4745_5345; // "ESEGENG1": marks our commit cookie (a generation high-water mark)
    private const int MaxPooledSessions = 64;
    private const int DeleteRecordBytes = RecordInfoBytes + KeyFieldBytes + 16;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(10);
    // A checkpoint that holds writes longer than this is worth an operator's attention (once a minute at most).
    private static readonly TimeSpan SlowCheckpoint = TimeSpan.FromSeconds(2);
    private long _slowCheckpointWarnedTicks;

    /// <summary>
    /// FASTER log addresses are 48-bit (hash entries and record headers keep 48 bits) and never wrap: a store
    /// that has written this much is emptied and restarted (about 250 TiB; at 100 MB/s a month).
    /// </summary>
    private const long DefaultLogAddressLimit = (1L << 48) - (1L << 42);

    private const int StateNew = 0, StateOpening = 1, StateOpen = 2, StateClosing = 3, StateClosed = 4;

    private readonly StoreOptions _options;
    private readonly ILogger<EntryStore> _logger;
    private readonly string _logDirectory;
    private readonly string _checkpointDirectory;
    private readonly int _segmentBits;
    private readonly long _indexBuckets;
    private readonly int _memoryBits;
    private readonly bool _memoryCapped;
    private readonly long _hardBase;   // log allowance before overflow-bucket checkpoint bytes are subtracted
    private readonly long _headroom;   // distance between the eviction trigger and the hard limit
    private readonly StoreFunctions _functions;
    private readonly SessionVariableLengthStructSettings<SpanByte, SpanByte> _sessionLengths = new() { valueLength = new CopyForwardLength() };
    private readonly ConcurrentQueue<StoreSession> _sessions = new();
    private readonly object _evictLock = new();
    private readonly object _checkpointLock = new();

    private IDevice? _device;
    private ICheckpointManager? _checkpointManager;
    private DeferredCommitCheckpointManager? _deferredCommits; // the same manager, on Linux (FileDevice)
    private FasterKV<SpanByte, SpanByte>? _store;
    private int _state;
    private int _pooledSessions;
    private long _reserved;            // bytes in-flight operations may still append (> 0 iff operations are in flight)
    private TaskCompletionSource? _gate; // set while a checkpoint holds new operations back
    // The checkpoint's gate once its drain is over: reads pass it (they change nothing FASTER checkpoints), writes
    // still wait. Held for the whole checkpoint, every hit stalled ~110 ms (up to ~470) every few seconds under churn.
    private TaskCompletionSource? _readPassGate;
    private long _physicalFloor;       // lowest log address whose segment file may still exist
    private long _generation;
    private long _evictions;
    private long _evictedBytes;
    private long _checkpoints;
    private long _lastCheckpointTicks;
    private long _lastCheckpointTail = -1;
    private long _lastCheckpointBegin = -1;
    private long _corruptReads;
    private long _readErrors;
    private Task? _checkpointTask;
    private Task? _disposeTask;
    private CancellationTokenSource? _timerCts;
    private Task? _timerTask;
    private int _resetRequested;

    /// <summary>Validates <paramref name="options"/> and sizes the store; nothing touches the disk until
    /// <see cref="OpenAsync"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it.</exception>
    public EntryStore(StoreOptions options, ILogger<EntryStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        if (string.IsNullOrWhiteSpace(options.Directory))
            throw new ArgumentException("Directory must be set.", nameof(options));
        if (options.DiskBudgetBytes < MinDiskBudgetBytes)
            throw new ArgumentException($"DiskBudgetBytes must be at least 16 MiB (got {options.DiskBudgetBytes} bytes).", nameof(options));
        if (options.DiskBudgetBytes > MaxDiskBudgetBytes)
            throw new ArgumentException($"DiskBudgetBytes must be at most 16 TiB (got {options.DiskBudgetBytes} bytes).", nameof(options));
        if (options.MemoryBudgetBytes < MinMemoryBudgetBytes)
            throw new ArgumentException($"MemoryBudgetBytes must be at least 4 MiB (got {options.MemoryBudgetBytes} bytes).", nameof(options));
        if (options.CheckpointTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"CheckpointTimeout must be positive (got {options.CheckpointTimeout}).", nameof(options));
        if (options.MemoryBudgetBytes > MaxMemoryBudgetBytes)
            throw new ArgumentException($"MemoryBudgetBytes must be at most 256 GiB (got {options.MemoryBudgetBytes} bytes).", nameof(options));

        _options = options;
        _logger = logger;
        var root = Path.GetFullPath(options.Directory);
        _logDirectory = Path.Combine(root, "log");
        _checkpointDirectory = Path.Combine(root, "checkpoints");

        long budget = options.DiskBudgetBytes;
        // Segment files are the unit of deletion: 1/64 of the budget, at least one page, at most 1 GiB. Small
        // segments let the log run close to the budget (eviction cuts whole segments, so the cut overshoots by one).
        _segmentBits = Math.Clamp(Log2Floor(budget / 64), PageSizeBits, 30);
        // Every checkpoint writes the whole index (64 bytes a bucket), and two checkpoints coexist briefly.
        _indexBuckets = Math.Clamp(1L << Log2Floor(budget / BytesPerIndexBucket), MinIndexBuckets, MaxIndexBuckets);
        _hardBase = budget - 2 * (_indexBuckets * 64 + CheckpointMetadataBytes) - FileSlopBytes - MarginBytes;
        // The log runs between hard - 2 * headroom (after a cut) and hard - headroom (the next cut): capacity is
        // the space below that, so the headroom is small; two segments so that a cut always frees a whole one.
        _headroom = Math.Max(_hardBase / 32, 2 * SegmentSize);
        // Keep the in-memory log well below what eviction keeps, so truncation never cuts into memory and
        // records spend most of their life in the read-only/disk region where hot reads copy them forward.
        long memoryCap = (_hardBase - 2 * _headroom) / 2;
        int wantedBits = Log2Floor(options.MemoryBudgetBytes);
        int capBits = Log2Floor(memoryCap);
        _memoryBits = Math.Max(Math.Min(wantedBits, capBits), PageSizeBits + 2);
        _memoryCapped = capBits < wantedBits;

        _functions = new StoreFunctions(OnCorruptRecord);
        _generation = DateTime.UtcNow.Ticks;
    }

    /// <summary>True if <see cref="OpenAsync"/> recovered a checkpoint (false for a new or reset store).</summary>
    public bool Recovered { get; private set; }

    /// <summary>Log address at which the store empties itself (see <see cref="DefaultLogAddressLimit"/>);
    /// lowered by tests.</summary>
    internal long LogAddressLimit { get; init; } = DefaultLogAddressLimit;

    private long SegmentSize => 1L << _segmentBits;

    /// <summary>
    /// A new body generation: unique and increasing, also across restarts (seeded from the clock and kept above
    /// every generation a recovered checkpoint may contain). Never 0 (0 is the header record's generation).
    /// </summary>
    public long NewGeneration() => Interlocked.Increment(ref _generation);

    /// <summary>Deletes the header record of <paramref name="keyHash"/> (chunks are left to eviction).</summary>
    public ValueTask DeleteHeaderAsync(UInt128 keyHash)
    {
        _index.Remove(keyHash);
        if (!TryAdmit(DeleteRecordBytes))
            return DeleteAfterWaitAsync(keyHash);
        return DeleteAdmitted(keyHash);
    }

    /// <summary>Writes one body chunk. The bytes are copied before the call returns.</summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> is longer than <see cref="MaxChunkBytes"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="generation"/> is not positive or
    /// <paramref name="index"/> is negative.</exception>
    public ValueTask WriteChunkAsync(UInt128 keyHash, long generation, int index, ReadOnlyMemory<byte> data)
    {
        ValidateChunkKey(generation, index);
        if (data.Length > MaxChunkBytes)
            throw new ArgumentException($"A chunk may hold at most {MaxChunkBytes} bytes (got {data.Length}).", nameof(data));
        return WriteCore(keyHash, generation, index, data);
    }

    /// <summary>Reads one body chunk into a new exact-size array the caller owns; null when absent, evicted or
    /// corrupt.</summary>
    public ValueTask<byte[]?> ReadChunkAsync(UInt128 keyHash, long generation, int index)
    {
        ValidateChunkKey(generation, index);
        var read = ReadCore(keyHash, generation, index);
        if (read.IsCompletedSuccessfully && read.Result is not null)
            return read;
        return ReadChunkSlowAsync(keyHash, generation, index, read);
    }

    /// <summary>A chunk read that found nothing, or went to disk. A read that began at the old record of an entry
    /// being copied forward finds it cut once the copy is done; the entry is still whole: read again (once).</summary>
    private async ValueTask<byte[]?> ReadChunkSlowAsync(UInt128 keyHash, long generation, int index, ValueTask<byte[]?> read)
    {
        var bytes = await read.ConfigureAwait(false);
        if (bytes is not null || !IsWhole(keyHash, generation))
            return bytes;
        return await ReadCore(keyHash, generation, index).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes a fold-over checkpoint (index + log) and deletes older checkpoints. Calls that arrive while a
    /// checkpoint is running share it. Cancelling <paramref name="ct"/> stops the wait, not the checkpoint.
    /// </summary>
    public Task CheckpointAsync(CancellationToken ct = default)
    {
        if (Volatile.Read(ref _state) != StateOpen)
            throw new InvalidOperationException("The store is not open.");
        var task = StartOrJoinCheckpoint();
        return ct.CanBeCanceled ? task.WaitAsync(ct) : task;
    }

    /// <summary>Current counters; <see cref="StoreStats.DiskBytes"/> is measured on disk by this call.</summary>
    public StoreStats GetStats()
    {
        var store = _store;
        long begin = 0, tail = 0;
        if (store is not null && Volatile.Read(ref _state) is StateOpen or StateClosing)
        {
            begin = store.Log.BeginAddress;
            tail = store.Log.TailAddress;
        }

        long lastTicks = Interlocked.Read(ref _lastCheckpointTicks);
        return new StoreStats(
            tail - begin,
            begin,
            tail,
            Interlocked.Read(ref _evictedBytes),
            Interlocked.Read(ref _evictions),
            Interlocked.Read(ref _checkpoints),
            lastTicks == 0 ? null : new DateTimeOffset(lastTicks, TimeSpan.Zero),
            MeasureDiskBytes())
        {
            Entries = _index.Count,
            BodyBytes = _index.BodyBytes,
            EvictedEntries = _index.EvictedEntries,
            EvictedEntryBytes = _index.EvictedBytes,
            MovedEntries = Interlocked.Read(ref _movedEntries),
            MovedBytes = Interlocked.Read(ref _movedBytes),
            MovesFailed = Interlocked.Read(ref _movesFailed),
            WriteWaits = Interlocked.Read(ref _writeWaits),
            ForcedCuts = Interlocked.Read(ref _forcedCuts),
            WriteWaitMs = Interlocked.Read(ref _writeWaitMs),
        };
    }

    /// <summary>Stops the timer, waits for in-flight calls, takes a final checkpoint and releases FASTER and
    /// its files. Safe to call more than once.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_checkpointLock)
        {
            _disposeTask ??= DisposeCoreAsync();
        }

        return new ValueTask(_disposeTask);
    }
}
