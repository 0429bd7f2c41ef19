using System.Globalization;
using System.Runtime.CompilerServices;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>The disk budget: admission of appends and FIFO eviction of whole segment files at the log's old end.</summary>
public sealed partial class EntryStore
{
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

    /// <summary>A read appends nothing, so it never waits for eviction; it only waits while a checkpoint drains
    /// (its reservation lets the drain see it in flight), not while FASTER then checkpoints.</summary>
    private bool TryAdmitRead()
    {
        if (Volatile.Read(ref _faultReason) is not null)
            ThrowUnavailable();
        Interlocked.Add(ref _reserved, ReadReservation);
        if (Volatile.Read(ref _state) == StateOpen)
        {
            var gate = Volatile.Read(ref _gate);
            if (gate is null || ReferenceEquals(gate, Volatile.Read(ref _readPassGate)))
                return true;
        }
        Interlocked.Add(ref _reserved, -ReadReservation);
        if (Volatile.Read(ref _state) != StateOpen)
            ThrowNotOpen();
        return false;
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
        // Counted: a writer that waits is a request that waits (a checkpoint's gate, or eviction held back for the
        // reinserter), which shows in the tail latency.
        long started = Environment.TickCount64;
        bool write = bytes != ReadReservation;
        if (write)
            Interlocked.Increment(ref _writeWaits);
        try
        {
            while (true)
            {
                var gate = Volatile.Read(ref _gate);
                if (gate is null)
                    await Task.Delay(1).ConfigureAwait(false);
                else if (write)
                    await gate.Task.ConfigureAwait(false);
                else
                    await Task.WhenAny(gate.Task, Task.Delay(2)).ConfigureAwait(false); // a checkpoint lets reads on after its drain
                if (write ? TryAdmit(bytes) : TryAdmitRead())
                    return;
            }
        }
        finally
        {
            if (write)
                Interlocked.Add(ref _writeWaitMs, Environment.TickCount64 - started);
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
                else
                {
                    Interlocked.Increment(ref _forcedCuts); // entries the reinserter had not reached are cut
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
}
