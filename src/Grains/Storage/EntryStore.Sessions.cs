using System.Runtime.CompilerServices;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

/// <summary>Pooled FASTER sessions, read-fault accounting, disk measurement and small helpers.</summary>
public sealed partial class EntryStore
{
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
