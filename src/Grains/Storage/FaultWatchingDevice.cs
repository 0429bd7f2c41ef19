using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// Passes every call to a FASTER device and reports failed writes. FASTER itself only traces a failed page
/// flush or checkpoint write and carries on (a flush error still advances its flushed-until address), so
/// without this a full disk goes unnoticed until a checkpoint hangs.
/// </summary>
internal sealed class FaultWatchingDevice(IDevice inner, Action<string, uint> onWriteError) : IDevice
{
    public uint SectorSize => inner.SectorSize;
    public string FileName => inner.FileName;
    public long Capacity => inner.Capacity;
    public long SegmentSize => inner.SegmentSize;
    public int StartSegment => inner.StartSegment;
    public int EndSegment => inner.EndSegment;

    public int ThrottleLimit
    {
        get => inner.ThrottleLimit;
        set => inner.ThrottleLimit = value;
    }

    public void Initialize(long segmentSize, LightEpoch? epoch = null, bool omitSegmentIdFromFilename = false) =>
        inner.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);

    public bool TryComplete() => inner.TryComplete();

    public bool Throttle() => inner.Throttle();

    public void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        inner.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, Watch(callback), context);

    public void WriteAsync(IntPtr sourceAddress, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
        inner.WriteAsync(sourceAddress, destinationAddress, numBytesToWrite, Watch(callback), context);

    public void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context) =>
        inner.ReadAsync(segmentId, sourceAddress, destinationAddress, readLength, callback, context);

    public void ReadAsync(ulong alignedSourceAddress, IntPtr alignedDestinationAddress, uint aligned_read_length, DeviceIOCompletionCallback callback, object context) =>
        inner.ReadAsync(alignedSourceAddress, alignedDestinationAddress, aligned_read_length, callback, context);

    public void TruncateUntilAddressAsync(long toAddress, AsyncCallback callback, IAsyncResult result) => inner.TruncateUntilAddressAsync(toAddress, callback, result);
    public void TruncateUntilAddress(long toAddress) => inner.TruncateUntilAddress(toAddress);
    public void TruncateUntilSegmentAsync(int toSegment, AsyncCallback callback, IAsyncResult result) => inner.TruncateUntilSegmentAsync(toSegment, callback, result);
    public void TruncateUntilSegment(int toSegment) => inner.TruncateUntilSegment(toSegment);
    public void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) => inner.RemoveSegmentAsync(segment, callback, result);
    public void RemoveSegment(int segment) => inner.RemoveSegment(segment);
    public long GetFileSize(int segment) => inner.GetFileSize(segment);
    public void Reset() => inner.Reset();

    public void Dispose()
    {
        _disposed = true;
        inner.Dispose();
    }

    // A page flush still in flight when the store disposes its FASTER instance (to close, or to empty itself when the
    // log's address space runs out) fails on the disposed device: the store threw those pages away, the disk is fine.
    // Seen once in CI as "a write to hlog.log failed" right before "emptied", which marked a healthy store failing.
    private volatile bool _disposed;

    private DeviceIOCompletionCallback Watch(DeviceIOCompletionCallback callback) => (errorCode, numBytes, context) =>
    {
        if (errorCode != 0 && !_disposed)
        {
            try { onWriteError(inner.FileName, errorCode); }
            catch (Exception) { /* reporting must never break FASTER's completion path */ }
        }
        callback(errorCode, numBytes, context);
    };
}

/// <summary>Checkpoint files (index and log metadata) go through <see cref="FaultWatchingDevice"/> too.</summary>
internal sealed class FaultWatchingDeviceFactory(INamedDeviceFactory inner, Action<string, uint> onWriteError) : INamedDeviceFactory
{
    public void Initialize(string baseName) => inner.Initialize(baseName);
    public IDevice Get(FileDescriptor fileInfo) => new FaultWatchingDevice(inner.Get(fileInfo), onWriteError);
    public void Delete(FileDescriptor fileInfo) => inner.Delete(fileInfo);
    public IEnumerable<FileDescriptor> ListContents(string path) => inner.ListContents(path);
}
