using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

// Eviction policy: CLOCK over the log. The disk budget cuts the log from its old end; shortly before an entry's
// floor is cut, the reinserter looks at it once: used since it was last written (a hit, or a reader streaming
// it) -> it is copied forward whole (chunks, then the header with the new floor) and spends one use; unused ->
// it is left to eviction. Plain FIFO lost the popular entries whose header was read but whose chunks were not.
public sealed partial class EntryStore
{
    private readonly SemaphoreSlim _reinsertSignal = new(0, 1);
    private CancellationTokenSource? _reinsertCts;
    private Task? _reinsertTask;
    private long _movedEntries;
    private long _movedBytes;
    private long _movesFailed;
    private long _writeWaits;
    private long _forcedCuts;
    private long _writeWaitMs;

    private long _reinsertWakeAt;
    // Log address below which every entry has been decided by the reinserter (kept entries already copied).
    private long _decidedUpTo;
    // Since when (Environment.TickCount64) eviction has been held back for the reinserter; 0: not held back.
    private long _deferredSince;
    // A reinserter that cannot keep up never stalls writers for longer than this: the cut then goes ahead.
    // Only writes wait (reads never do), and the cut follows the copies as they finish, so this bounds a stuck
    // reinserter (a stalled disk, a starved thread pool) more than the normal pace.
    private const long MaxEvictionDeferralMs = 250;
    private const long MinReinsertWindow = 8L << 20;
    private static readonly AsyncLocal<bool> _inReinserter = new();

    private void StartReinserter()
    {
        _reinsertCts = new CancellationTokenSource();
        _reinsertTask = Task.Run(() => ReinsertLoopAsync(_reinsertCts.Token));
    }

    private async Task StopReinserterAsync()
    {
        if (_reinsertCts is null)
            return;
        await _reinsertCts.CancelAsync().ConfigureAwait(false);
        try
        {
            await _reinsertTask!.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _reinsertCts.Dispose();
        _reinsertCts = null;
    }

    /// <summary>Called after writes: wakes the reinserter once the tail has moved on enough since it last looked.</summary>
    private void WakeReinserterIfDue(long tail)
    {
        if (tail >= Volatile.Read(ref _reinsertWakeAt))
            WakeReinserter();
    }

    private void WakeReinserter()
    {
        if (_reinsertSignal.CurrentCount == 0)
        {
            try
            {
                _reinsertSignal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    private async Task ReinsertLoopAsync(CancellationToken ct)
    {
        _inReinserter.Value = true; // its copies may use the headroom held back from other writers
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _reinsertSignal.WaitAsync(TimeSpan.FromMilliseconds(20), ct).ConfigureAwait(false);
                await CopyDueEntriesAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is ObjectDisposedException || Volatile.Read(ref _state) != StateOpen)
            {
                return;
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Store reinsertion failed; entries near eviction may be evicted instead of kept");
            }
        }
    }

    /// <summary>
    /// Copies forward every entry due for a decision, one at a time. Eviction may cut up to the floor of the entry
    /// being copied, so the cut follows the copies as they finish and frees the room the next copies need: waiting
    /// for a whole round let the copies fill the headroom and then wait on a cut that waited on them. (Two or four
    /// copies in parallel starved the thread pool on the Zipf bench: 1-1.4 s stalls, grain calls timing out.)
    /// </summary>
    private async Task CopyDueEntriesAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            if (!NextToKeep(out var key, out var meta, out long line))
            {
                // Every entry below the line has been decided (and the ones worth keeping copied): eviction may cut there.
                AdvanceDecided(line);
                return;
            }
            // Entries come in floor order: everything below this one's floor is decided.
            AdvanceDecided(meta.Extent.Floor);
            await MoveAsync(key, meta).ConfigureAwait(false);
        }
    }

    private void AdvanceDecided(long upTo)
    {
        if (upTo > Volatile.Read(ref _decidedUpTo))
            Volatile.Write(ref _decidedUpTo, upTo);
    }

    /// <summary>The next entry near the begin address that is worth keeping; none while the log is not nearly
    /// full (then <paramref name="line"/> says below where every entry is decided).</summary>
    private bool NextToKeep(out UInt128 key, out EntryIndex.Meta meta, out long line)
    {
        var store = _store;
        line = 0;
        if (store is null || Volatile.Read(ref _state) != StateOpen)
        {
            (key, meta) = (default, null!);
            return false;
        }

        // An entry is cut once the tail is about `keep` past its floor (eviction keeps the newest `keep` bytes, cut
        // on segment boundaries). Decide about every entry that will be cut within the next eighth of the log's
        // length of writes, so copies finish before their originals go. The originals of copied entries are dead
        // space until the cut reaches them, so a longer window would cost capacity.
        long tail = store.Log.TailAddress;
        long keep = HardLimit(store) - 2 * _headroom;
        // At least 8 MiB: the copies need time at any store size (a few hundred ms of writes at fill rate).
        long window = Math.Max(Math.Max(keep / 8, _headroom + SegmentSize), Math.Min(MinReinsertWindow, keep / 2));
        line = tail - keep + window + SegmentSize;
        Volatile.Write(ref _reinsertWakeAt, tail + Math.Max(window / 8, PageSize));
        return _index.TryNextToKeep(line, DateTime.UtcNow.Ticks, out key, out meta);
    }

    /// <summary>Copies a whole entry to the tail: its chunks, then its header with the new floor (only if the
    /// header still names this body). The old records are left to eviction.</summary>
    private async Task MoveAsync(UInt128 key, EntryIndex.Meta meta)
    {
        var extent = meta.Extent;
        long floor = ChunkFloor;
        for (int i = 0; i < extent.Chunks; i++)
        {
            var chunk = await ReadCore(key, extent.Generation, i).ConfigureAwait(false);
            if (chunk is null)
            {
                Interlocked.Increment(ref _movesFailed);
                return; // already evicted or corrupt: the entry goes
            }

            await WriteCore(key, extent.Generation, i, chunk).ConfigureAwait(false);
        }

        bool applied = await MoveHeaderAsync(key, extent.Generation, floor).ConfigureAwait(false);
        if (applied && _index.Moved(key, meta, floor))
        {
            Interlocked.Increment(ref _movedEntries);
            Interlocked.Add(ref _movedBytes, meta.Bytes);
        }

    }

    private async ValueTask<bool> MoveHeaderAsync(UInt128 key, long generation, long floor)
    {
        if (!TryAdmit(MaxRecordBytes))
            await WaitForRoomAsync(MaxRecordBytes).ConfigureAwait(false);
        StoreSession? session = null;
        bool healthy = false;
        try
        {
            session = RentSession();
            session.SetKey(key, 0, 0);
            session.SetMoveInput(generation, floor);
            var result = await session.Session.RMWAsync(ref session.Key, ref session.Input).ConfigureAwait(false);
            while (result.Status.IsPending)
                result = await result.CompleteAsync().ConfigureAwait(false);
            var (_, output) = result.Complete();
            healthy = true;
            return output.Applied;
        }
        finally
        {
            if (session is not null)
            {
                session.ClearInput();
                if (healthy)
                    ReturnSession(session);
                else
                    session.Dispose();
            }

            Interlocked.Add(ref _reserved, -MaxRecordBytes);
        }
    }
}
