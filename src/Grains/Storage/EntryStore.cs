using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using FASTER.core;
using CacheCluster.Contracts.Storage;
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
    private DeviceLogCommitCheckpointManager? _checkpointManager;
    private FasterKV<SpanByte, SpanByte>? _store;
    private int _state;
    private int _pooledSessions;
    private long _reserved;            // bytes in-flight operations may still append (> 0 iff operations are in flight)
    private TaskCompletionSource? _gate; // set while a checkpoint holds new operations back
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
        // Segment files are the unit of deletion: 1/16 of the budget, at least one page, at most 1 GiB.
        _segmentBits = Math.Clamp(Log2Floor(budget / 16), PageSizeBits, 30);
        // Every checkpoint writes the whole index (64 bytes a bucket), and two checkpoints coexist briefly.
        _indexBuckets = Math.Clamp(1L << Log2Floor(budget / BytesPerIndexBucket), MinIndexBuckets, MaxIndexBuckets);
        _hardBase = budget - 2 * (_indexBuckets * 64 + CheckpointMetadataBytes) - FileSlopBytes - MarginBytes;
        _headroom = Math.Max(_hardBase / 8, SegmentSize);
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
    /// Creates the store, or recovers it from the latest checkpoint under <see cref="StoreOptions.Directory"/>,
    /// and starts the checkpoint timer. A missing or empty directory gives an empty store; so does a checkpoint
    /// that cannot be recovered (logged as an error; the old files are deleted).
    /// </summary>
    public async Task OpenAsync(CancellationToken ct = default)
    {
        if (Interlocked.CompareExchange(ref _state, StateOpening, StateNew) != StateNew)
            throw new InvalidOperationException("OpenAsync can be called once, before DisposeAsync.");

        var stopwatch = Stopwatch.StartNew();
        Guid token = default;
        try
        {
            Directory.CreateDirectory(_logDirectory);
            Directory.CreateDirectory(_checkpointDirectory);

            if (HasCheckpointFiles())
            {
                try
                {
                    token = await RecoverAsync(ct).ConfigureAwait(false);
                    Recovered = true;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    throw;
                }
                catch (CheckpointEvictedException ex)
                {
                    _logger.LogWarning("Store at {Dir}: the checkpoint could not be recovered: {Reason}; starting with an empty store and deleting the old log and checkpoints",
                        _options.Directory, ex.Message);
                    DisposeFaster();
                }
                catch (Exception ex)
                {
                    _logger.LogError(ex, "Store at {Dir}: the checkpoint could not be recovered; starting with an empty store and deleting the old log and checkpoints", _options.Directory);
                    DisposeFaster();
                }
            }

            if (!Recovered)
            {
                ResetDirectories();
                CreateFaster();
                _physicalFloor = 0;
            }

            ct.ThrowIfCancellationRequested();
        }
        catch
        {
            DisposeFaster();
            Volatile.Write(ref _state, StateClosed);
            throw;
        }

        Volatile.Write(ref _state, StateOpen);
        if (_options.CheckpointInterval > TimeSpan.Zero)
        {
            _timerCts = new CancellationTokenSource();
            _timerTask = CheckpointLoopAsync(_options.CheckpointInterval, _timerCts.Token);
        }

        StartReinserter();
        if (_memoryCapped)
        {
            _logger.LogWarning("Store memory budget {Wanted} MiB capped to {Mem} MiB: the disk budget of {Disk} MiB leaves room for a log of about {Log} MiB",
                _options.MemoryBudgetBytes >> 20, (1L << _memoryBits) >> 20, _options.DiskBudgetBytes >> 20, _hardBase >> 20);
        }

        var log = _store!.Log;
        if (Recovered)
        {
            _logger.LogInformation(
                "Store opened at {Dir}: memory {Mem} MiB, disk budget {Disk} MiB, recovered checkpoint {Token} in {Ms} ms ({LogMiB:F1} MiB of log, {DiskMiB:F1} MiB on disk)",
                _options.Directory, (1L << _memoryBits) >> 20, _options.DiskBudgetBytes >> 20, token, stopwatch.ElapsedMilliseconds,
                (log.TailAddress - log.BeginAddress) / 1048576.0, MeasureDiskBytes() / 1048576.0);
        }
        else
        {
            _logger.LogInformation(
                "Store opened at {Dir}: memory {Mem} MiB, disk budget {Disk} MiB, new empty store (segments {Segment} MiB, index {Buckets} buckets) in {Ms} ms",
                _options.Directory, (1L << _memoryBits) >> 20, _options.DiskBudgetBytes >> 20, SegmentSize >> 20, _indexBuckets, stopwatch.ElapsedMilliseconds);
        }
    }

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
        return ReadCore(keyHash, generation, index);
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

    // ---------------------------------------------------------------- reads

    // Reads append nothing (whole entries are copied forward by the reinserter), so they reserve only a token
    // amount: enough for a checkpoint's drain to see them in flight.
    private const long ReadReservation = 8;

    private ValueTask<byte[]?> ReadCore(UInt128 keyHash, long generation, int index)
    {
        if (!TryAdmit(ReadReservation))
            return ReadAfterWaitAsync(keyHash, generation, index);
        return ReadAdmitted(keyHash, generation, index);
    }

    private async ValueTask<byte[]?> ReadAfterWaitAsync(UInt128 keyHash, long generation, int index)
    {
        await WaitForRoomAsync(ReadReservation).ConfigureAwait(false);
        return await ReadAdmitted(keyHash, generation, index).ConfigureAwait(false);
    }

    private ValueTask<byte[]?> ReadAdmitted(UInt128 keyHash, long generation, int index)
    {
        StoreSession? session = null;
        bool handedOff = false;
        try
        {
            session = RentSession();
            session.SetKey(keyHash, generation, index);
            var pending = session.Session.ReadAsync(ref session.Key, ref session.Input);
            if (!pending.IsCompletedSuccessfully)
            {
                handedOff = true;
                return ReadPendingAsync(pending, session);
            }

            var (status, output) = pending.Result.Complete();
            return new ValueTask<byte[]?>(Finish(status, output));
        }
        catch (Exception ex) when (ex is not ObjectDisposedException && Volatile.Read(ref _state) == StateOpen)
        {
            OnReadError(ex);
            session?.Dispose();
            session = null;
            return new ValueTask<byte[]?>((byte[]?)null);
        }
        finally
        {
            if (!handedOff)
            {
                if (session is not null)
                    ReturnSession(session);
                Interlocked.Add(ref _reserved, -ReadReservation);
            }
        }
    }

    private async ValueTask<byte[]?> ReadPendingAsync(
        ValueTask<FasterKV<SpanByte, SpanByte>.ReadAsyncResult<SpanByte, ReadOutput, Empty>> pending, StoreSession session)
    {
        bool healthy = false;
        try
        {
            var result = await pending.ConfigureAwait(false);
            var (status, output) = result.Complete();
            healthy = true;
            return Finish(status, output);
        }
        catch (Exception ex) when (ex is not ObjectDisposedException && Volatile.Read(ref _state) == StateOpen)
        {
            OnReadError(ex);
            return null;
        }
        finally
        {
            if (healthy)
                ReturnSession(session);
            else
                session.Dispose();
            Interlocked.Add(ref _reserved, -ReadReservation);
        }
    }

    private static byte[]? Finish(Status status, ReadOutput output) => status.Found ? output.Data : null;

    // ---------------------------------------------------------------- writes

    private ValueTask WriteCore(UInt128 keyHash, long generation, int index, ReadOnlyMemory<byte> data)
    {
        long bytes = RecordBytes(data.Length);
        if (!TryAdmit(bytes))
            return WriteAfterWaitAsync(keyHash, generation, index, data, bytes);
        return WriteAdmitted(keyHash, generation, index, data.Span, bytes);
    }

    private async ValueTask WriteAfterWaitAsync(UInt128 keyHash, long generation, int index, ReadOnlyMemory<byte> data, long bytes)
    {
        await WaitForRoomAsync(bytes).ConfigureAwait(false);
        await WriteAdmitted(keyHash, generation, index, data.Span, bytes).ConfigureAwait(false);
    }

    // The async FASTER calls matter: when the in-memory log is full, the sync Upsert/Delete block the calling
    // thread until a page flush completes, and flush completions run on the thread pool; grains calling from
    // the pool would then starve it (measured: 384 concurrent 64 KiB writes took 6 s instead of 0.2 s). The
    // async calls complete synchronously in the common case and await the flush otherwise.
    private ValueTask WriteAdmitted(UInt128 keyHash, long generation, int index, ReadOnlySpan<byte> data, long bytes)
    {
        StoreSession? session = null;
        bool handedOff = false;
        try
        {
            session = RentSession();
            session.SetKey(keyHash, generation, index);
            session.SetValue(data);
            var upsert = session.Session.UpsertAsync(ref session.Key, ref session.Value);
            WakeReinserterIfDue(_store!.Log.TailAddress);
            if (upsert.IsCompletedSuccessfully && !upsert.Result.Status.IsPending)
            {
                ReturnSession(session);
                session = null;
                return default;
            }

            handedOff = true;
            return CompleteUpsertAsync(upsert, session, bytes);
        }
        finally
        {
            if (!handedOff)
            {
                session?.Dispose();
                Interlocked.Add(ref _reserved, -bytes);
            }
        }
    }

    private async ValueTask CompleteUpsertAsync(
        ValueTask<FasterKV<SpanByte, SpanByte>.UpsertAsyncResult<SpanByte, ReadOutput, Empty>> upsert, StoreSession session, long bytes)
    {
        bool healthy = false;
        try
        {
            var result = await upsert.ConfigureAwait(false);
            while (result.Status.IsPending)
                result = await result.CompleteAsync().ConfigureAwait(false);
            healthy = true;
        }
        finally
        {
            if (healthy)
                ReturnSession(session);
            else
                session.Dispose();
            Interlocked.Add(ref _reserved, -bytes);
        }
    }

    private async ValueTask DeleteAfterWaitAsync(UInt128 keyHash)
    {
        await WaitForRoomAsync(DeleteRecordBytes).ConfigureAwait(false);
        await DeleteAdmitted(keyHash).ConfigureAwait(false);
    }

    private ValueTask DeleteAdmitted(UInt128 keyHash)
    {
        StoreSession? session = null;
        bool handedOff = false;
        try
        {
            session = RentSession();
            session.SetKey(keyHash, 0, 0);
            var delete = session.Session.DeleteAsync(ref session.Key);
            if (delete.IsCompletedSuccessfully && !delete.Result.Status.IsPending)
            {
                ReturnSession(session);
                session = null;
                return default;
            }

            handedOff = true;
            return CompleteDeleteAsync(delete, session);
        }
        finally
        {
            if (!handedOff)
            {
                session?.Dispose();
                Interlocked.Add(ref _reserved, -DeleteRecordBytes);
            }
        }
    }

    private async ValueTask CompleteDeleteAsync(
        ValueTask<FasterKV<SpanByte, SpanByte>.DeleteAsyncResult<SpanByte, ReadOutput, Empty>> delete, StoreSession session)
    {
        bool healthy = false;
        try
        {
            var result = await delete.ConfigureAwait(false);
            while (result.Status.IsPending)
                result = await result.CompleteAsync().ConfigureAwait(false);
            healthy = true;
        }
        finally
        {
            if (healthy)
                ReturnSession(session);
            else
                session.Dispose();
            Interlocked.Add(ref _reserved, -DeleteRecordBytes);
        }
    }

    private static long RecordBytes(int payloadLength) =>
        RecordInfoBytes + KeyFieldBytes + ((LengthPrefixBytes + RecordFormat.ChecksumBytes + payloadLength + 7) & ~7L);

    private static void ValidateChunkKey(long generation, int index)
    {
        if (generation <= 0)
            throw new ArgumentOutOfRangeException(nameof(generation), generation, "Chunk generations are positive (use NewGeneration).");
        if (index < 0)
            throw new ArgumentOutOfRangeException(nameof(index), index, "Chunk indexes are not negative.");
    }

    // ---------------------------------------------------------------- disk budget

    // Log bytes on disk are bounded by TailAddress - _physicalFloor (segment files are written up to the tail and
    // deleted below the begin address). Every operation reserves the bytes it may append before it starts, so
    // "tail + reserved - floor" bounds what the log can occupy once the in-flight operations finish.

    private long HardLimit(FasterKV<SpanByte, SpanByte> store) => _hardBase - (store.OverflowBucketCount << 7);

    /// <summary>Reserves <paramref name="bytes"/>; false (reservation dropped) when the caller must wait.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryAdmit(long bytes)
    {
        if (Volatile.Read(ref _faultReason) is not null)
            ThrowUnavailable(); // fail fast: callers bypass the cache rather than wait on a failing disk
        long reserved = Interlocked.Add(ref _reserved, bytes);
        if (Volatile.Read(ref _state) != StateOpen || Volatile.Read(ref _gate) is not null)
        {
            Interlocked.Add(ref _reserved, -bytes);
            if (Volatile.Read(ref _state) != StateOpen)
                ThrowNotOpen();
            return false; // a checkpoint is starting: wait for it (WaitForRoomAsync)
        }

        var store = _store!;
        if (store.Log.TailAddress + reserved - Volatile.Read(ref _physicalFloor) <= HardLimit(store) - _headroom)
            return true;
        return TryAdmitSlow(store, bytes);
    }

    private bool TryAdmitSlow(FasterKV<SpanByte, SpanByte> store, long bytes)
    {
        bool deferred = EvictIfNeeded(store);
        // While eviction waits for the reinserter, new writes wait too (only the reinserter's copies may use the
        // last headroom), so a burst of fills cannot run the log into undecided entries.
        long limit = deferred && !_inReinserter.Value ? HardLimit(store) - _headroom : HardLimit(store);
        if (store.Log.TailAddress + Volatile.Read(ref _reserved) - Volatile.Read(ref _physicalFloor) <= limit)
            return true;
        Interlocked.Add(ref _reserved, -bytes);
        return false;
    }

    /// <summary>Waits until a running checkpoint lets operations through again and <paramref name="bytes"/> fit
    /// (they only do not when in-flight reservations alone exceed the budget); returns holding the reservation.</summary>
    private async ValueTask WaitForRoomAsync(long bytes)
    {
        while (true)
        {
            var gate = Volatile.Read(ref _gate);
            if (gate is not null)
                await gate.Task.ConfigureAwait(false);
            else
                await Task.Delay(1).ConfigureAwait(false);
            if (TryAdmit(bytes))
                return;
        }
    }

    /// <summary>Cuts the log's old end when it is too long; true when the cut was held back for the reinserter.</summary>
    private bool EvictIfNeeded(FasterKV<SpanByte, SpanByte> store)
    {
        lock (_evictLock)
        {
            long hard = HardLimit(store);
            long tail = store.Log.TailAddress;
            if (tail >= LogAddressLimit && Interlocked.Exchange(ref _resetRequested, 1) == 0)
                _ = ResetInBackgroundAsync();

            long reserved = Volatile.Read(ref _reserved);
            if (tail + reserved - Volatile.Read(ref _physicalFloor) <= hard - _headroom)
                return false;

            // Keep (hard - 2 * headroom) bytes including what is reserved, cut on a segment boundary so the
            // whole segment files below the new begin address go. Never cut into the in-memory pages: segments
            // below HeadAddress are completely flushed, so nothing writes to a file that is deleted here.
            long keep = hard - 2 * _headroom;
            long newBegin = Math.Min(AlignUp(tail + reserved - keep, SegmentSize), store.Log.HeadAddress & ~(SegmentSize - 1));
            long oldBegin = store.Log.BeginAddress;
            // Entries the reinserter has not decided about yet are not cut while there is room to wait for it (writers
            // then wait a little, and copies of used entries come first); once the log is nearly at its hard limit
            // the cut goes ahead regardless, so a slow reinserter can never jam the store.
            long decided = Volatile.Read(ref _decidedUpTo) & ~(SegmentSize - 1);
            bool deferred = false;
            if (newBegin > decided)
            {
                long now = Environment.TickCount64;
                if (_deferredSince == 0)
                    _deferredSince = now;
                if (now - _deferredSince < MaxEvictionDeferralMs)
                {
                    newBegin = decided;
                    deferred = true;
                    WakeReinserter();
                }
            }
            else
            {
                _deferredSince = 0;
            }

            if (newBegin <= oldBegin)
                return deferred;

            // Reads below the new begin address return NotFound from here on.
            store.Log.ShiftBeginAddress(newBegin, snapToPageStart: true, truncateLog: true);
            long begin = store.Log.BeginAddress;
            DeleteSegmentsBelow(begin);
            _index.Evicted(begin);
            WakeReinserter();
            Interlocked.Increment(ref _evictions);
            Interlocked.Add(ref _evictedBytes, begin - oldBegin);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("Store evicted {MiB:F1} MiB of oldest log to stay within the disk budget (begin {Begin}, tail {Tail})",
                    (begin - oldBegin) / 1048576.0, begin, tail);
            }

            // Recovery needs the last checkpoint's records; if eviction gets close to them, checkpoint again.
            if (_timerTask is not null && tail - Interlocked.Read(ref _lastCheckpointTail) > keep / 2)
                _ = BackgroundCheckpointAsync();
            return deferred;
        }
    }

    /// <summary>
    /// Deletes the segment files below <paramref name="begin"/> now. FASTER deletes them too, but from an epoch
    /// action that runs only once every thread has left the operations it was in; under load that lagged by
    /// many megabytes of writes and broke the disk cap. Unlinking a file FASTER still has open is harmless:
    /// FASTER never reads below the begin address, and it closes the handle when its own truncation runs.
    /// </summary>
    private void DeleteSegmentsBelow(long begin)
    {
        int from = SegmentOf(Volatile.Read(ref _physicalFloor));
        int to = SegmentOf(begin);
        for (int segment = from; segment < to; segment++)
        {
            try
            {
                File.Delete(SegmentPath(segment));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(ex, "Store could not delete evicted log segment {Path}", SegmentPath(segment));
            }
        }

        Volatile.Write(ref _physicalFloor, (long)to << _segmentBits);
    }

    private string SegmentPath(int segment) => Path.Combine(_logDirectory, "hlog.log." + segment.ToString(CultureInfo.InvariantCulture));

    // ---------------------------------------------------------------- checkpoints

    private Task StartOrJoinCheckpoint()
    {
        lock (_checkpointLock)
        {
            if (_checkpointTask is null || _checkpointTask.IsCompleted)
            {
                if (Volatile.Read(ref _state) != StateOpen)
                    return Task.CompletedTask; // closing: DisposeAsync takes the final checkpoint
                if (!IsHealthy)
                    return Task.FromException(Unavailable()); // the repair checkpoints once the disk works
                _checkpointTask = RunCheckpointAsync();
            }

            return _checkpointTask;
        }
    }

    // Operations are held back while the checkpoint runs. Measured with FASTER 2.6.5: a fold-over checkpoint
    // that overlaps concurrent async upserts (pooled sessions, log memory full) took 1-16 s instead of 10-50 ms
    // and stalled every writer for that long. Draining first and holding new calls for the checkpoint's
    // duration (tens of ms with a 64 MiB log memory) avoids that.
    private async Task RunCheckpointAsync()
    {
        await Task.Yield();
        var store = _store!;
        var stopwatch = Stopwatch.StartNew();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _gate, gate);
        long drainMs;
        long begin, tail;
        Guid token;
        try
        {
            bool drained = true;
            while (Interlocked.Read(ref _reserved) != 0)
            {
                if (stopwatch.Elapsed > DrainTimeout)
                {
                    _logger.LogWarning("Store checkpoint: operations still running after {Seconds} s; checkpointing anyway", DrainTimeout.TotalSeconds);
                    drained = false;
                    break;
                }

                await Task.Delay(1).ConfigureAwait(false);
            }

            drainMs = stopwatch.ElapsedMilliseconds;
            if (drained && Volatile.Read(ref _resetRequested) != 0 && Volatile.Read(ref _state) == StateOpen)
                store = ResetStore();
            EvictIfNeeded(store); // the checkpoint's files need their share of the budget
            begin = store.Log.BeginAddress;
            tail = store.Log.TailAddress;
            store.CommitCookie = EncodeCookie(Interlocked.Read(ref _generation) + GenerationReserve);
            // Bounded, and failed by any write error meanwhile (EntryStore.Faults.cs).
            long writeErrors = Interlocked.Read(ref _writeErrors);
            var faultSignal = Volatile.Read(ref _faultSignal).Task;
            token = await AwaitCheckpointAsync(store.TakeFullCheckpointAsync(CheckpointType.FoldOver), writeErrors, faultSignal).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _gate, null);
            gate.TrySetResult();
        }

        long heldMs = stopwatch.ElapsedMilliseconds;
        // Only now, with a complete checkpoint on disk, do the older ones go.
        _lastGoodToken = token;
        PurgeCheckpointsExcept(token);
        Interlocked.Exchange(ref _lastCheckpointTail, tail);
        Interlocked.Exchange(ref _lastCheckpointBegin, begin);
        Interlocked.Increment(ref _checkpoints);
        Interlocked.Exchange(ref _lastCheckpointTicks, DateTime.UtcNow.Ticks);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("Store checkpoint {Token} taken in {Ms} ms (calls held {HeldMs} ms, {DrainMs} ms of it draining): {LogMiB:F1} MiB of log",
                token, stopwatch.ElapsedMilliseconds, heldMs, drainMs, (tail - begin) / 1048576.0);
        }
    }

    /// <summary>Empties the store (used when the log address space is nearly used up). Runs inside a
    /// checkpoint run: operations are held back and drained.</summary>
    private FasterKV<SpanByte, SpanByte> ResetStore()
    {
        long tail = _store!.Log.TailAddress;
        DisposeFaster();
        StartEmpty();
        Volatile.Write(ref _resetRequested, 0);
        _logger.LogWarning("Store at {Dir} emptied: its log reached address {Tail}, near the end of FASTER's 48-bit address space; all entries are gone",
            _options.Directory, tail);
        return _store!;
    }

    /// <summary>A new, empty FASTER instance on emptied directories (FASTER already disposed): log addresses start
    /// over, so everything that tracks them does too.</summary>
    private void StartEmpty()
    {
        _index.Clear();
        ResetDirectories(quiet: true);
        CreateFaster();
        Volatile.Write(ref _physicalFloor, 0);
        Volatile.Write(ref _decidedUpTo, 0);
        Interlocked.Exchange(ref _lastCheckpointTail, -1);
        Interlocked.Exchange(ref _lastCheckpointBegin, -1);
    }

    private async Task ResetInBackgroundAsync()
    {
        try
        {
            // A checkpoint run that started before the request does not reset; run until one has.
            while (Volatile.Read(ref _resetRequested) != 0 && Volatile.Read(ref _state) == StateOpen)
                await StartOrJoinCheckpoint().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Store reset failed; it is retried on a later write");
            Volatile.Write(ref _resetRequested, 0);
        }
    }

    private async Task BackgroundCheckpointAsync()
    {
        try
        {
            if (Volatile.Read(ref _state) == StateOpen)
                await StartOrJoinCheckpoint().ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            // Logged once when the store started failing; the repair checkpoints.
        }
        catch (Exception ex)
        {
            _logger.LogWarning(ex, "Store checkpoint failed; the next one will be tried at the next interval");
        }
    }

    private async Task CheckpointLoopAsync(TimeSpan interval, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var store = Volatile.Read(ref _store);
                if (store is null || !IsHealthy
                    || (store.Log.TailAddress == Interlocked.Read(ref _lastCheckpointTail)
                        && store.Log.BeginAddress == Interlocked.Read(ref _lastCheckpointBegin)))
                {
                    continue; // nothing changed since the last checkpoint
                }

                await BackgroundCheckpointAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void PurgeCheckpointsExcept(Guid keep)
    {
        var manager = _checkpointManager!;
        try
        {
            var stale = new HashSet<Guid>();
            foreach (var token in manager.GetIndexCheckpointTokens())
            {
                if (token != keep)
                    stale.Add(token);
            }

            foreach (var token in manager.GetLogCheckpointTokens())
            {
                if (token != keep)
                    stale.Add(token);
            }

            foreach (var token in stale)
                manager.Purge(token);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(ex, "Store could not delete an old checkpoint; it will be retried after the next checkpoint");
        }
    }

    private static byte[] EncodeCookie(long generation)
    {
        var cookie = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(cookie, CookieMagic);
        BinaryPrimitives.WriteInt64LittleEndian(cookie.AsSpan(8), generation);
        return cookie;
    }

    private static long DecodeCookie(byte[]? cookie) =>
        cookie is { Length: 16 } && BinaryPrimitives.ReadUInt64LittleEndian(cookie) == CookieMagic
            ? BinaryPrimitives.ReadInt64LittleEndian(cookie.AsSpan(8))
            : 0;

    // ---------------------------------------------------------------- open / recover / close

    private void CreateFaster()
    {
        // recoverDevice: false on purpose. With true, FASTER refuses to recover when the disk budget deleted
        // segments below the checkpoint's begin address after the checkpoint ("Unable to set first valid
        // segment"). RecoverAsync below checks the segment files itself and moves the begin address instead.
        // Writes are watched for errors (FASTER only traces them). removeOutdated: false: FASTER would delete the
        // previous checkpoint as soon as a new one's metadata is written, even when its page flushes failed;
        // RunCheckpointAsync deletes older checkpoints itself, once a new one is known to be complete.
        _device = new FaultWatchingDevice(
            Devices.CreateLogDevice(Path.Combine(_logDirectory, "hlog.log"), preallocateFile: false, deleteOnClose: false, recoverDevice: false),
            OnWriteError);
        _checkpointManager = new DeviceLogCommitCheckpointManager(
            new FaultWatchingDeviceFactory(new LocalStorageNamedDeviceFactory(), OnWriteError),
            new DefaultCheckpointNamingScheme(_checkpointDirectory), removeOutdated: false);
        _store = new FasterKV<SpanByte, SpanByte>(
            _indexBuckets,
            new LogSettings
            {
                LogDevice = _device,
                PageSizeBits = PageSizeBits,
                MemorySizeBits = _memoryBits,
                SegmentSizeBits = _segmentBits,
                MutableFraction = 0.9,
            },
            new CheckpointSettings { CheckpointManager = _checkpointManager, RemoveOutdated = false });
    }

    private async Task<Guid> RecoverAsync(CancellationToken ct)
    {
        var segments = ListSegments();
        CreateFaster();
        var store = _store!;
        await store.RecoverAsync(cancellationToken: ct).ConfigureAwait(false);
        store.GetLatestCheckpointTokens(out _, out var token);
        var log = store.Log;
        long begin = log.BeginAddress;
        long tail = log.TailAddress;
        if (tail >= LogAddressLimit)
            throw new CheckpointEvictedException($"its log reached address {tail}, near the end of FASTER's 48-bit address space");
        if (tail > begin)
        {
            int first = SegmentOf(begin);
            int last = SegmentOf(tail - 1);
            if (!segments.ContainsKey(last))
                throw new CheckpointEvictedException($"log segment {last}, which holds the checkpoint's newest records, was evicted after the checkpoint (more than the disk budget was written without a newer checkpoint)");

            int lowest = last;
            while (lowest > first && segments.ContainsKey(lowest - 1))
                lowest--;

            if (lowest > first)
            {
                // The disk budget deleted these segments after the checkpoint was taken.
                long newBegin = (long)lowest << _segmentBits;
                log.ShiftBeginAddress(newBegin, snapToPageStart: true, truncateLog: true);
                _logger.LogWarning("Store checkpoint {Token}: {MiB:F1} MiB of its oldest log had been evicted after it was taken; those entries read as missing",
                    token, (newBegin - begin) / 1048576.0);
            }
        }

        begin = log.BeginAddress;
        Volatile.Write(ref _physicalFloor, begin & ~(SegmentSize - 1));
        RemoveSegmentsOutside(SegmentOf(begin), tail);
        LoadIndex(store);
        long cookie = DecodeCookie(store.RecoveredCommitCookie);
        if (cookie > Interlocked.Read(ref _generation))
            Interlocked.Exchange(ref _generation, cookie);
        Interlocked.Exchange(ref _lastCheckpointTail, tail);
        Interlocked.Exchange(ref _lastCheckpointBegin, begin);
        _lastGoodToken = token;
        PurgeCheckpointsExcept(token); // unfinished or older checkpoints (FASTER no longer removes them)
        return token;
    }

    /// <summary>
    /// Deletes segment files the recovered log does not use: below the begin address (evicted), above the tail
    /// (written after the checkpoint, lost with the crash), and trims the tail segment's bytes past the tail.
    /// They would otherwise count against the disk budget until the log overwrote them.
    /// </summary>
    private void RemoveSegmentsOutside(int firstSegment, long tail)
    {
        int tailSegment = SegmentOf(tail);
        foreach (var (segment, path) in ListSegments())
        {
            try
            {
                if (segment < firstSegment || segment > tailSegment)
                {
                    File.Delete(path);
                }
                else if (segment == tailSegment)
                {
                    long keep = AlignUp(tail - ((long)segment << _segmentBits), 4096);
                    using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                    if (file.Length > keep)
                        file.SetLength(keep);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning(ex, "Store could not clean up log segment file {Path}", path);
            }
        }
    }

    private Dictionary<int, string> ListSegments()
    {
        var result = new Dictionary<int, string>();
        if (!Directory.Exists(_logDirectory))
            return result;
        foreach (var path in Directory.EnumerateFiles(_logDirectory, "hlog.log.*"))
        {
            var suffix = Path.GetFileName(path).AsSpan("hlog.log.".Length);
            if (int.TryParse(suffix, NumberStyles.None, CultureInfo.InvariantCulture, out int segment))
                result[segment] = path;
        }

        return result;
    }

    private bool HasCheckpointFiles()
    {
        var cpr = Path.Combine(_checkpointDirectory, "cpr-checkpoints");
        if (!Directory.Exists(cpr))
            return false;
        foreach (var _ in Directory.EnumerateFiles(cpr, "*", SearchOption.AllDirectories))
            return true;
        return false;
    }

    private void ResetDirectories(bool quiet = false)
    {
        int deleted = 0;
        foreach (var directory in new[] { _logDirectory, _checkpointDirectory })
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(directory))
            {
                if (Directory.Exists(entry))
                    Directory.Delete(entry, recursive: true);
                else
                    File.Delete(entry);
                deleted++;
            }
        }

        if (deleted > 0 && !quiet)
            _logger.LogWarning("Store at {Dir}: deleted {Count} log/checkpoint entries that no usable checkpoint covers", _options.Directory, deleted);
    }

    private async Task DisposeCoreAsync()
    {
        int previous = Interlocked.Exchange(ref _state, StateClosing);
        if (previous != StateOpen)
        {
            // Never opened (or open failed): nothing to checkpoint.
            DisposeFaster();
            Volatile.Write(ref _state, StateClosed);
            return;
        }

        var stopwatch = Stopwatch.StartNew();
        if (_timerCts is not null)
        {
            await _timerCts.CancelAsync().ConfigureAwait(false);
            try
            {
                await _timerTask!.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _logger.LogDebug(ex, "Store checkpoint timer ended with an error");
            }

            _timerCts.Dispose();
        }

        await StopReinserterAsync().ConfigureAwait(false);

        if (_probeCts is not null)
        {
            await _probeCts.CancelAsync().ConfigureAwait(false);
            try
            {
                if (_probeTask is not null)
                    await _probeTask.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _logger.LogDebug(ex, "Store disk probe ended with an error");
            }
        }

        // New calls now fail with ObjectDisposedException; let the ones in flight finish.
        while (Interlocked.Read(ref _reserved) != 0 && stopwatch.Elapsed < DrainTimeout)
            await Task.Delay(1).ConfigureAwait(false);

        bool checkpointed = false;
        try
        {
            Task? running;
            lock (_checkpointLock)
                running = _checkpointTask;
            if (running is not null)
            {
                try
                {
                    await running.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Logged by whoever started it; the final checkpoint below is what matters.
                }
            }

            if (!IsHealthy)
            {
                // A failing disk would only hold up the shutdown; the last good checkpoint stays on disk.
                _logger.LogWarning("Store at {Dir} is failing ({Reason}): no final checkpoint; the next start recovers checkpoint {Token}",
                    _options.Directory, FaultReason, _lastGoodToken == default ? "none" : _lastGoodToken);
            }
            else
            {
                Task final;
                lock (_checkpointLock)
                    _checkpointTask = final = RunCheckpointAsync();
                await final.ConfigureAwait(false); // bounded by StoreOptions.CheckpointTimeout
                checkpointed = true;
            }
        }
        catch (StoreUnavailableException)
        {
            // Logged once by MarkFaulted with its cause.
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Store final checkpoint failed; the next start recovers the previous checkpoint");
        }

        var stats = GetStats();
        if (IsHealthy && !Volatile.Read(ref _wedged))
            DisposeFaster();
        else
            await DisposeFasterBoundedAsync().ConfigureAwait(false);
        Volatile.Write(ref _state, StateClosed);
        _logger.LogInformation(
            "Store closed at {Dir} in {Ms} ms (final checkpoint {Result}): {LogMiB:F1} MiB of log, {DiskMiB:F1} MiB on disk, {Entries} entries, {EvictedEntries} entries evicted, {Moved} kept by copying them forward ({MovedMiB:F1} MiB), {Corrupt} corrupt records, {ReadErrors} read errors",
            _options.Directory, stopwatch.ElapsedMilliseconds, checkpointed ? "taken" : "failed", stats.LogBytes / 1048576.0,
            stats.DiskBytes / 1048576.0, stats.Entries, stats.EvictedEntries, stats.MovedEntries, stats.MovedBytes / 1048576.0, Interlocked.Read(ref _corruptReads),
            Interlocked.Read(ref _readErrors));
    }

    private void DisposeFaster()
    {
        while (_sessions.TryDequeue(out var session))
            session.Dispose();
        _pooledSessions = 0;
        _store?.Dispose();
        _store = null;
        _device?.Dispose();
        _device = null;
        _checkpointManager?.Dispose();
        _checkpointManager = null;
    }

    // ---------------------------------------------------------------- sessions and helpers

    private StoreSession RentSession()
    {
        if (_sessions.TryDequeue(out var session))
        {
            Interlocked.Decrement(ref _pooledSessions);
            return session;
        }

        // ReadCopyOptions.None: FASTER's own read copy (ReadCopyFrom.AllImmutable) waits for page flushes
        // synchronously inside reads when the in-memory log is full, which starves the thread pool under
        // concurrent disk reads (measured: 384 concurrent reads took 8-14 s instead of 0.1 s with 2 pool
        // threads). The store copies used entries forward itself, whole and with async calls (EntryStore.Reinsert.cs).
        return new StoreSession(_store!.For(_functions).NewSession<StoreFunctions>(
            sessionVariableLengthStructSettings: _sessionLengths, readCopyOptions: ReadCopyOptions.None));
    }

    private void ReturnSession(StoreSession session)
    {
        if (Interlocked.Increment(ref _pooledSessions) > MaxPooledSessions)
        {
            Interlocked.Decrement(ref _pooledSessions);
            session.Dispose();
            return;
        }

        _sessions.Enqueue(session);
    }

    private void OnCorruptRecord()
    {
        if (Interlocked.Increment(ref _corruptReads) == 1)
        {
            _logger.LogWarning("Store at {Dir}: a record failed its checksum and was treated as missing (further failures are counted and reported at shutdown)",
                _options.Directory);
        }
    }

    private void OnReadError(Exception ex)
    {
        if (Interlocked.Increment(ref _readErrors) == 1)
            _logger.LogWarning(ex, "Store read failed and was treated as a miss (further failures are logged at debug level)");
        else
            _logger.LogDebug(ex, "Store read failed and was treated as a miss");
    }

    private long MeasureDiskBytes()
    {
        long total = 0;
        try
        {
            var root = new DirectoryInfo(_options.Directory);
            if (!root.Exists)
                return 0;
            foreach (var file in root.EnumerateFiles("*", SearchOption.AllDirectories))
            {
                try
                {
                    total += file.Length;
                }
                catch (FileNotFoundException)
                {
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
        }

        return total;
    }

    private int SegmentOf(long address) => (int)(address >> _segmentBits);

    private static long AlignUp(long value, long alignment) => (value + alignment - 1) & ~(alignment - 1);

    private static int Log2Floor(long value) => 63 - (int)ulong.LeadingZeroCount((ulong)Math.Max(value, 1));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUnavailable() => throw Unavailable();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowNotOpen()
    {
        if (Volatile.Read(ref _state) >= StateClosing)
            throw new ObjectDisposedException(nameof(EntryStore));
        throw new InvalidOperationException("The store is not open yet (call OpenAsync).");
    }
}

/// <summary>The disk budget evicted everything the latest checkpoint refers to.</summary>
internal sealed class CheckpointEvictedException(string message) : Exception(message);
