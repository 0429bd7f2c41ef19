using System.Buffers.Binary;
using System.Diagnostics;
using CacheCluster.Contracts.Storage;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>Checkpoints: fold-over checkpoints on a timer and on demand, the commit cookie, the address-space reset.</summary>
public sealed partial class EntryStore
{
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
            // Nothing is in flight now: reads may go on while FASTER checkpoints (it runs alongside operations;
            // writes stay held so that each entry's chunks and header land on the same side of the checkpoint).
            if (drained)
                Volatile.Write(ref _readPassGate, gate);
            token = await AwaitCheckpointAsync(store.TakeFullCheckpointAsync(CheckpointType.FoldOver), writeErrors, faultSignal).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _readPassGate, null);
            Interlocked.Exchange(ref _gate, null);
            gate.TrySetResult();
        }

        long heldMs = stopwatch.ElapsedMilliseconds;
        // The log commit (sync, then the metadata) runs now, writes let through again and outside FASTER's epoch: it
        // names only pages FASTER already wrote (DeferredCommitCheckpointManager says why it is not done inside).
        if (_deferredCommits is { } deferred)
        {
            try { await deferred.CommitPendingAsync().ConfigureAwait(false); }
            catch (Exception ex) when (ex is not ObjectDisposedException)
            {
                MarkFaulted($"a checkpoint's commit failed ({ex.GetBaseException().Message})");
                throw Unavailable();
            }
        }
        // Only now, with a complete checkpoint on disk, do the older ones go.
        _lastGoodToken = token;
        PurgeCheckpointsExcept(token);
        Interlocked.Exchange(ref _lastCheckpointTail, tail);
        Interlocked.Exchange(ref _lastCheckpointBegin, begin);
        Interlocked.Increment(ref _checkpoints);
        Interlocked.Exchange(ref _lastCheckpointTicks, DateTime.UtcNow.Ticks);
        if (heldMs > SlowCheckpoint.TotalMilliseconds && DateTime.UtcNow.Ticks - Interlocked.Read(ref _slowCheckpointWarnedTicks) > TimeSpan.TicksPerMinute)
        {
            Interlocked.Exchange(ref _slowCheckpointWarnedTicks, DateTime.UtcNow.Ticks);
            _logger.LogWarning("Store checkpoint took {Ms} ms ({DrainMs} ms draining), holding writes meanwhile: the disk under {Dir} is slow or busy",
                heldMs, drainMs, _options.Directory);
        }
        else if (_logger.IsEnabled(LogLevel.Debug))
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
}
