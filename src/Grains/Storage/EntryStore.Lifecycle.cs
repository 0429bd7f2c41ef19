using System.Diagnostics;
using System.Globalization;
using CacheCluster.Contracts.Storage;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>Open (create or recover from the latest checkpoint), recovery's file clean-up, and close.</summary>
public sealed partial class EntryStore
{
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

    private void CreateFaster()
    {
        // recoverDevice: false on purpose. With true, FASTER refuses to recover when the disk budget deleted
        // segments below the checkpoint's begin address after the checkpoint ("Unable to set first valid
        // segment"). RecoverAsync below checks the segment files itself and moves the begin address instead.
        // FileDevice keeps blocking disk calls off the thread pool (see DiskThreads).
        // Writes are watched for errors (FASTER only traces them). removeOutdated: false: FASTER would delete the
        // previous checkpoint as soon as a new one's metadata is written, even when its page flushes failed;
        // RunCheckpointAsync deletes older checkpoints itself, once a new one is known to be complete.
        var fileDevice = OperatingSystem.IsLinux() ? new FileDevice(Path.Combine(_logDirectory, "hlog.log")) : null;
        _device = new FaultWatchingDevice(
            fileDevice ?? Devices.CreateLogDevice(Path.Combine(_logDirectory, "hlog.log"), preallocateFile: false, deleteOnClose: false, recoverDevice: false),
            OnWriteError);
        ICheckpointManager manager = new DeviceLogCommitCheckpointManager(
            new FaultWatchingDeviceFactory(new LocalStorageNamedDeviceFactory(), OnWriteError),
            new DefaultCheckpointNamingScheme(_checkpointDirectory), removeOutdated: false);
        _deferredCommits = fileDevice is null ? null : new DeferredCommitCheckpointManager(manager, fileDevice.Sync);
        _checkpointManager = (ICheckpointManager?)_deferredCommits ?? manager;
        _store = new FasterKV<SpanByte, SpanByte>(
            _indexBuckets,
            new LogSettings
            {
                LogDevice = _device,
                PageSizeBits = PageSizeBits,
                MemorySizeBits = _memoryBits,
                SegmentSizeBits = _segmentBits,
                MutableFraction = 0.1,
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
}

/// <summary>The disk budget evicted everything the latest checkpoint refers to.</summary>
internal sealed class CheckpointEvictedException(string message) : Exception(message);
