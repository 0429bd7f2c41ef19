namespace CacheCluster.Node.Proxy;

/// <summary>
/// The client's request body as the upstream request reads it. A failure while reading it (a malformed chunk,
/// a chunk size that overflows, a body over the size limit) is the client's fault, and is marked so the
/// client gets a 4xx instead of a 502 that blames the origin.
/// </summary>
public sealed class ClientBodyStream(Stream inner) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try { return await inner.ReadAsync(buffer, cancellationToken); }
        catch (Exception ex) when (ex is not OperationCanceledException) { throw new ClientBodyException(ex); }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>Reading the client's request body failed (see <see cref="ClientBodyStream"/>).</summary>
public sealed class ClientBodyException(Exception inner) : IOException($"the request body is malformed: {inner.Message}", inner);
