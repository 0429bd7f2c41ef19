using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using FASTER.core;
using Microsoft.Win32.SafeHandles;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// The store's log device: one file per segment (<c>hlog.log.N</c>, as FASTER's own devices name them), positional
/// reads and writes (no shared file position, so no lock and no pool of streams per segment), run on
/// <see cref="DiskThreads"/> rather than the thread pool. Writes are synced every 8 MiB by a sync thread of the
/// device's own, and before a checkpoint is committed <see cref="Sync"/> puts the rest on disk
/// (<see cref="DeferredCommitCheckpointManager"/>), so a checkpoint still only names durable pages. FASTER's device
/// synced every 1 MiB page on a pool thread.
/// Linux only (fdatasync); other systems keep FASTER's own device.
/// </summary>
internal sealed class FileDevice : StorageDeviceBase
{
    private readonly ConcurrentDictionary<int, SafeFileHandle> _segments = new();
    // Written bytes are synced every SyncEveryBytes, so the sync before a checkpoint commit has little left to do:
    // syncing a checkpoint interval's writes at once (~100 MB under churn) made checkpoints 2-10x longer. Not by the
    // writer threads: a write that waited for an fdatasync (a second or two on a busy disk) held FASTER's page flush,
    // and FASTER's writers spin on pool threads until a page is free (the thread pool stalled as long).
    private const long SyncEveryBytes = 8L << 20;
    private readonly ConcurrentDictionary<int, bool> _unsynced = new();
    private long _unsyncedBytes;
    private readonly AutoResetEvent _syncWanted = new(false);
    private readonly object _syncLock = new(); // a Sync returns only once everything written before it is on disk
    private volatile Exception? _syncError;    // a failed background sync fails the next write: the store learns of it
    private readonly DiskThreads _threads;
    private int _pending;
    private volatile bool _disposed;

    public FileDevice(string fileName, DiskThreads? threads = null)
        : base(fileName, sectorSize: 512, capacity: Devices.CAPACITY_UNSPECIFIED)
    {
        _threads = threads ?? DiskThreads.Shared;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(fileName))!);
        new Thread(SyncLoop) { IsBackground = true, Name = "store sync" }.Start();
    }

    private void SyncLoop()
    {
        while (true)
        {
            _syncWanted.WaitOne();
            if (_disposed) return;
            try { Sync(); }
            catch (Exception ex) when (ex is not ObjectDisposedException) { _syncError = ex; }
            catch (ObjectDisposedException) { return; }
        }
    }

    /// <summary>Operations submitted and not yet completed.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public override bool Throttle() => Volatile.Read(ref _pending) > ThrottleLimit;

    public override unsafe void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength,
        DeviceIOCompletionCallback callback, object context)
    {
        Interlocked.Increment(ref _pending);
        // Most reads of a record find it in the page cache: read it here, without waiting, and skip the hand-off to a
        // disk thread and back (their wake-ups and spinning were two thirds of the node's thread switches on the Zipf
        // mix). What is not cached (or only partly) goes on to a disk thread, so this thread never waits for a disk.
        uint cached = 0;
        if (readLength <= InlineReadLimit && ReadCached(segmentId, sourceAddress, destinationAddress, readLength, out cached))
        {
            Interlocked.Decrement(ref _pending);
            callback(0, cached, context);
            return;
        }
        _threads.Read(() =>
        {
            uint error = 0, done = cached;
            try
            {
                var handle = Segment(segmentId, create: false);
                var span = new Span<byte>((void*)destinationAddress, (int)readLength);
                while (done < readLength)
                {
                    int n = RandomAccess.Read(handle, span[(int)done..], (long)sourceAddress + done);
                    if (n == 0)
                        break; // past the end: FASTER asks for whole sectors; the rest stays as it was
                    done += (uint)n;
                }
            }
            catch (FileNotFoundException)
            {
                // A segment evicted meanwhile (or, in recovery, after the checkpoint) reads as nothing, as it does
                // with FASTER's device; RecoverAsync and the entry checks then tell such records apart.
                done = 0;
            }
            catch (Exception ex)
            {
                error = ErrorCode(ex);
                done = 0;
            }

            Interlocked.Decrement(ref _pending);
            callback(error, done, context);
        });
    }

    public override unsafe void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite,
        DeviceIOCompletionCallback callback, object context)
    {
        HandleCapacity(segmentId);
        Interlocked.Increment(ref _pending);
        _threads.Write(() =>
        {
            uint error = 0;
            try
            {
                if (_syncError is { } failed)
                    throw failed;
                var handle = Segment(segmentId, create: true);
                _unsynced[segmentId] = true; // before the write: a Sync that runs after its callback must see it
                RandomAccess.Write(handle, new ReadOnlySpan<byte>((void*)sourceAddress, (int)numBytesToWrite), (long)destinationAddress);
                if (Interlocked.Add(ref _unsyncedBytes, numBytesToWrite) >= SyncEveryBytes)
                {
                    Interlocked.Exchange(ref _unsyncedBytes, 0);
                    _syncWanted.Set();
                }
            }
            catch (Exception ex)
            {
                error = ErrorCode(ex);
            }

            Interlocked.Decrement(ref _pending);
            callback(error, error == 0 ? numBytesToWrite : 0, context);
        });
    }

    /// <summary>Reads at most this many bytes inline (a record: a chunk and its key); pages (recovery, scans) go to a disk thread.</summary>
    private const uint InlineReadLimit = 256 * 1024;
    private const int RWF_NOWAIT = 0x8;     // linux/fs.h: fail with EAGAIN rather than wait for the disk or a lock
    private static volatile bool s_noWaitUnsupported;

    /// <summary>
    /// Reads what the page cache holds of the range without waiting (preadv2 RWF_NOWAIT): true when the read is over
    /// (all of it read, or the file ended first: the rest stays as it was, as on a disk thread), with the bytes read;
    /// false with how many leading bytes were read, for a disk thread to go on from.
    /// </summary>
    private unsafe bool ReadCached(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, out uint done)
    {
        done = 0;
        if (s_noWaitUnsupported || !_segments.TryGetValue(segmentId, out var handle)) return false;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added); // a segment removed meanwhile stays open until this read is over
            int fd = (int)handle.DangerousGetHandle();
            while (done < readLength)
            {
                var iov = new IoVec { Base = (byte*)destinationAddress + done, Length = readLength - done };
                long n = preadv2(fd, &iov, 1, (long)(sourceAddress + done), RWF_NOWAIT);
                if (n == 0) return true; // past the end
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR) continue;
                    // EOPNOTSUPP (a file system or kernel without it): always go to the disk threads from now on.
                    if (errno == EOPNOTSUPP) s_noWaitUnsupported = true;
                    return false; // EAGAIN (not cached) or a failure: a disk thread reads (and reports) it
                }
                done += (uint)n;
            }
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private const int EINTR = 4, EOPNOTSUPP = 95;

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern unsafe long preadv2(int fd, IoVec* iov, int iovcnt, long offset, int flags);

    /// <summary>Puts every segment written since the last call on disk; throws when the disk fails.</summary>
    public void Sync()
    {
        if (_syncError is { } failed)
            throw new IOException($"an earlier sync failed: {failed.Message}", failed);
        lock (_syncLock)
            SyncLocked();
    }

    private void SyncLocked()
    {
        foreach (var segment in _unsynced.Keys)
        {
            _unsynced.TryRemove(segment, out _);
            if (!_segments.TryGetValue(segment, out var handle))
                continue; // removed meanwhile: nothing to keep
            try
            {
                if (fdatasync(handle) != 0) // the marshaller holds the handle open for the call
                {
                    _unsynced[segment] = true;
                    throw new IOException($"fdatasync failed on {SegmentName(segment)}", Marshal.GetLastPInvokeError());
                }
            }
            catch (ObjectDisposedException)
            {
                // Removed while syncing: nothing to keep.
            }
        }
    }

    public override void RemoveSegment(int segment)
    {
        if (_segments.TryRemove(segment, out var handle))
            handle.Dispose();
        _unsynced.TryRemove(segment, out _);
        try
        {
            File.Delete(SegmentName(segment));
        }
        catch (IOException)
        {
            // Already gone, or the disk failed: the space comes back when the store is repaired or reset.
        }
    }

    public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) =>
        _threads.Write(() =>
        {
            RemoveSegment(segment);
            callback(result);
        });

    public override long GetFileSize(int segment)
    {
        if (segmentSize > 0)
            return segmentSize;
        var file = new FileInfo(SegmentName(segment));
        return file.Exists ? file.Length : 0;
    }

    public override void Dispose()
    {
        _disposed = true;
        _syncWanted.Set();
        foreach (var segment in _segments.Keys)
            if (_segments.TryRemove(segment, out var handle))
                handle.Dispose();
    }

    // Reads never create a file: a read racing the removal of its segment fails instead of leaving an empty file.
    private SafeFileHandle Segment(int segmentId, bool create)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_segments.TryGetValue(segmentId, out var handle))
            return handle;
        var opened = File.OpenHandle(SegmentName(segmentId), create ? FileMode.OpenOrCreate : FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (_segments.TryAdd(segmentId, opened))
            return opened;
        opened.Dispose(); // another thread opened it first
        return _segments[segmentId];
    }

    private string SegmentName(int segmentId) => $"{FileName}.{segmentId}";

    // FASTER takes a nonzero error code as a failed operation (FaultWatchingDevice reports it).
    private static uint ErrorCode(Exception ex) => ex is IOException { HResult: var h } && (h & 0xFFFF) != 0 ? (uint)(h & 0xFFFF) : uint.MaxValue;

    [DllImport("libc", SetLastError = true)]
    private static extern int fdatasync(SafeFileHandle fd);
}
