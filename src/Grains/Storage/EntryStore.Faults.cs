using System.Diagnostics;
using CacheCluster.Contracts.Storage;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// Disk faults (a full disk, an I/O error): the store notices a failed write or checkpoint, refuses calls at
/// once (so callers bypass the cache instead of waiting), probes the disk and, once a test write succeeds,
/// reopens itself from the last good checkpoint. A checkpoint counts as good only when it finished without
/// any failed write; older checkpoints are deleted only after a good one, so one failure never costs the store.
/// </summary>
public sealed partial class EntryStore
{
    private const int ProbeBlockBytes = 1 << 20;

    private string? _faultReason;        // non-null while the store refuses calls
    private long _failures;              // failed writes, flushes and checkpoints (metrics)
    private long _writeErrors;           // failed device writes (log pages, checkpoint files)
    private long _faultedAtTicks;
    private bool _wedged;                // a checkpoint never finished: this FASTER instance must be rebuilt
    private Guid _lastGoodToken;
    private TaskCompletionSource _faultSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource? _probeCts;
    private Task? _probeTask;

    /// <summary>False while the store is failing (see <see cref="FaultReason"/>); its calls then throw
    /// <see cref="StoreUnavailableException"/> at once.</summary>
    public bool IsHealthy => Volatile.Read(ref _faultReason) is null;

    /// <summary>Why the store is failing, in a sentence; null when healthy.</summary>
    public string? FaultReason => Volatile.Read(ref _faultReason);

    /// <summary>Failed writes, page flushes and checkpoints since the store was created.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>How often a failing store tests the disk (a small file written, synced, deleted); lowered by tests.</summary>
    internal TimeSpan FaultProbeInterval { get; init; } = TimeSpan.FromSeconds(5);

    private StoreUnavailableException Unavailable() =>
        new($"The entry store at {_options.Directory} is failing: {FaultReason ?? "it is recovering"}.");

    /// <summary>FASTER reported a failed device write (a log page or a checkpoint file).</summary>
    private void OnWriteError(string file, uint errorCode)
    {
        Interlocked.Increment(ref _writeErrors);
        var code = errorCode == uint.MaxValue ? "an I/O error" : $"error {errorCode}";
        MarkFaulted($"a write to {Path.GetFileName(file)} failed ({code})");
    }

    /// <summary>Counts a failure; the first one of a fault is logged with its cause and starts the disk probe.</summary>
    private void MarkFaulted(string cause)
    {
        Interlocked.Increment(ref _failures);
        var reason = $"{cause}; {FreeSpaceText()}";
        bool first = Interlocked.CompareExchange(ref _faultReason, reason, null) is null;
        Volatile.Read(ref _faultSignal).TrySetResult();
        if (!first)
        {
            _logger.LogDebug("Store at {Dir}: another failure while failing: {Cause}", _options.Directory, cause);
            return;
        }

        Interlocked.Exchange(ref _faultedAtTicks, Stopwatch.GetTimestamp());
        _logger.LogError(
            "Store at {Dir} is failing: {Reason}. Requests bypass the cache and the node reports not ready; the disk is tested every {Probe} s and the store reopens from its last good checkpoint ({Token}) once a test write succeeds",
            _options.Directory, reason, FaultProbeInterval.TotalSeconds, _lastGoodToken == default ? "none" : _lastGoodToken);
        StartProbe();
    }

    private string FreeSpaceText()
    {
        try
        {
            var free = new DriveInfo(Path.GetFullPath(_options.Directory)).AvailableFreeSpace;
            return $"{free / 1048576.0:F1} MiB free on its file system";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "free space unknown";
        }
    }

    private void StartProbe()
    {
        lock (_checkpointLock)
        {
            if (_probeTask is { IsCompleted: false } || Volatile.Read(ref _state) != StateOpen)
                return;
            _probeCts ??= new CancellationTokenSource();
            _probeTask = ProbeLoopAsync(_probeCts.Token);
        }
    }

    private async Task ProbeLoopAsync(CancellationToken ct)
    {
        try
        {
            while (!IsHealthy && Volatile.Read(ref _state) == StateOpen)
            {
                await Task.Delay(FaultProbeInterval, ct).ConfigureAwait(false);
                if (!ProbeDisk())
                    continue;
                Task repair;
                lock (_checkpointLock)
                {
                    if (Volatile.Read(ref _state) != StateOpen)
                        return;
                    if (_checkpointTask is { IsCompleted: false } running)
                        repair = running; // let it end first; the next round repairs
                    else
                        _checkpointTask = repair = RepairAsync();
                }

                try
                {
                    await repair.WaitAsync(ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogDebug(ex, "Store repair attempt failed; retrying after the next successful test write");
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes, syncs and deletes a file as large as a checkpoint's index plus a page: true when it worked.</summary>
    private bool ProbeDisk()
    {
        var path = Path.Combine(Path.GetFullPath(_options.Directory), "probe.tmp");
        long bytes = Math.Min(_indexBuckets * 64 + 2 * PageSize, 64L << 20);
        try
        {
            using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, ProbeBlockBytes, FileOptions.WriteThrough))
            {
                var block = new byte[ProbeBlockBytes];
                for (long written = 0; written < bytes; written += block.Length)
                    file.Write(block, 0, (int)Math.Min(block.Length, bytes - written));
                file.Flush(flushToDisk: true);
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _logger.LogDebug("Store disk test failed: {Message}", ex.Message);
            return false;
        }
        finally
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogDebug("Store could not delete its disk test file: {Message}", ex.Message);
            }
        }
    }

    /// <summary>
    /// Reopens the store from its last good checkpoint (entries written after it are gone; callers treat that
    /// as misses), then takes a checkpoint to prove the disk takes writes again. Calls keep failing fast until
    /// that checkpoint is good.
    /// </summary>
    private async Task RepairAsync()
    {
        await Task.Yield();
        var stopwatch = Stopwatch.StartNew();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _gate, gate);
        Guid token;
        try
        {
            while (Interlocked.Read(ref _reserved) != 0 && stopwatch.Elapsed < DrainTimeout)
                await Task.Delay(10).ConfigureAwait(false);
            await DisposeFasterBoundedAsync().ConfigureAwait(false);
            Volatile.Write(ref _wedged, false);
            token = await ReopenFromLastGoodAsync().ConfigureAwait(false);
            Interlocked.Exchange(ref _faultSignal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
        finally
        {
            Interlocked.Exchange(ref _gate, null);
            gate.TrySetResult();
        }

        // Throws (and the store stays failing) if the disk still refuses the checkpoint.
        await RunCheckpointAsync().ConfigureAwait(false);
        var failedFor = Stopwatch.GetElapsedTime(Interlocked.Read(ref _faultedAtTicks));
        Volatile.Write(ref _faultReason, null);
        _logger.LogWarning("Store at {Dir} recovered after {Seconds:F0} s: reopened from checkpoint {Token} (entries written after it are gone) and checkpointed again; caching resumes",
            _options.Directory, failedFor.TotalSeconds, token == default ? "none (empty store)" : token);
    }

    /// <summary>Recovers the last good checkpoint into a new FASTER instance; an empty store if there is none.</summary>
    private async Task<Guid> ReopenFromLastGoodAsync()
    {
        _index.Clear(); // rebuilt from the recovered checkpoint's header records (or left empty)
        DeleteCheckpointsExcept(_lastGoodToken);
        if (_lastGoodToken != default && HasCheckpointFiles())
        {
            try
            {
                var token = await RecoverAsync(CancellationToken.None).ConfigureAwait(false);
                _lastGoodToken = token;
                return token;
            }
            catch (Exception ex)
            {
                _logger.LogError("Store at {Dir}: checkpoint {Token} could not be recovered ({Message}); starting with an empty store",
                    _options.Directory, _lastGoodToken, ex.Message);
                DisposeFaster();
            }
        }

        StartEmpty();
        _lastGoodToken = default;
        return default;
    }

    /// <summary>Removes checkpoint folders other than <paramref name="keep"/> straight from the disk (no FASTER
    /// instance is open while this runs).</summary>
    private void DeleteCheckpointsExcept(Guid keep)
    {
        foreach (var kind in new[] { "cpr-checkpoints", "index-checkpoints" })
        {
            var dir = Path.Combine(_checkpointDirectory, kind);
            if (!Directory.Exists(dir))
                continue;
            foreach (var sub in Directory.EnumerateDirectories(dir))
            {
                if (Guid.TryParse(Path.GetFileName(sub), out var token) && token == keep)
                    continue;
                try
                {
                    Directory.Delete(sub, recursive: true);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    _logger.LogWarning("Store could not delete the unfinished checkpoint {Path}: {Message}", sub, ex.Message);
                }
            }
        }
    }

    /// <summary>
    /// Disposes FASTER, but never hangs the caller on it: an instance whose checkpoint never finished may not
    /// come back from Dispose. Such an instance is abandoned (its files are replaced by the recovery).
    /// </summary>
    private async Task DisposeFasterBoundedAsync()
    {
        var dispose = Task.Run(DisposeFaster);
        if (await Task.WhenAny(dispose, Task.Delay(DrainTimeout)).ConfigureAwait(false) != dispose)
        {
            _logger.LogWarning("Store at {Dir}: FASTER did not close within {Seconds} s after the failure; abandoning that instance",
                _options.Directory, DrainTimeout.TotalSeconds);
            _sessions.Clear();
            _pooledSessions = 0;
            _store = null;
            _device = null;
            _checkpointManager = null;
        }
    }

    /// <summary>
    /// Waits for a FASTER checkpoint, but no longer than <see cref="StoreOptions.CheckpointTimeout"/> and not past
    /// a failed write. Returns the token of a checkpoint that finished with no failed write; otherwise marks the
    /// store failing, deletes what that checkpoint wrote (the previous one stays) and throws.
    /// </summary>
    private async Task<Guid> AwaitCheckpointAsync(ValueTask<(bool Started, Guid Token)> checkpoint, long writeErrorsBefore, Task faultSignal)
    {
        var task = checkpoint.AsTask();
        var first = await Task.WhenAny(task, faultSignal, Task.Delay(_options.CheckpointTimeout)).ConfigureAwait(false);
        if (first == task || task.IsCompleted)
        {
            if (task.IsFaulted)
            {
                MarkFaulted($"a checkpoint failed ({task.Exception!.GetBaseException().Message})");
                throw Unavailable();
            }

            var (started, token) = task.Result;
            if (!started)
                throw new InvalidOperationException("FASTER did not start the checkpoint (another checkpoint is in progress).");
            if (Interlocked.Read(ref _writeErrors) == writeErrorsBefore && !faultSignal.IsCompleted)
                return token;

            // FASTER completes a checkpoint even when its page flushes failed: its files hold holes.
            MarkFaulted("a checkpoint finished although writes failed meanwhile");
            try
            {
                _checkpointManager?.Purge(token);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogWarning("Store could not delete the bad checkpoint {Token}: {Message}", token, ex.Message);
            }

            throw Unavailable();
        }

        Volatile.Write(ref _wedged, true);
        MarkFaulted(first == faultSignal
            ? "a write failed during a checkpoint"
            : $"a checkpoint did not finish within {_options.CheckpointTimeout.TotalSeconds:F0} s");
        _ = task.ContinueWith(t => _ = t.Exception, TaskScheduler.Default); // observed, never awaited
        throw Unavailable();
    }
}
