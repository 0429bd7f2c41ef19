using System.Diagnostics;
using System.Net.Sockets;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// Measures the node's traffic with origins around OriginClient: the time to the response headers of every
/// fetch, and the bytes read from origin connections (counted on the socket stream, headers included).
/// </summary>
public sealed class OriginMeter(ProxyCounters counters)
{
    /// <summary>Wraps the origin handler so each fetch's time to response headers is recorded.</summary>
    public HttpMessageHandler Wrap(HttpMessageHandler inner) => new Timing(inner, counters);

    /// <summary>Wraps an origin connection's stream so the bytes read from it are counted.</summary>
    public Stream Counted(Stream connection) => new CountingStream(connection, counters);

    private sealed class Timing(HttpMessageHandler inner, ProxyCounters counters) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var started = Stopwatch.GetTimestamp();
            try { return await base.SendAsync(request, cancellationToken); }
            finally { counters.OriginFetch(Stopwatch.GetElapsedTime(started)); }
        }
    }

    private sealed class CountingStream(Stream inner, ProxyCounters counters) : Stream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await inner.ReadAsync(buffer, cancellationToken);
            if (n > 0) counters.OriginBytes(n);
            return n;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            if (n > 0) counters.OriginBytes(n);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => inner.WriteAsync(buffer, cancellationToken);
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.WriteAsync(buffer, offset, count, cancellationToken);
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override void Flush() => inner.Flush();
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
