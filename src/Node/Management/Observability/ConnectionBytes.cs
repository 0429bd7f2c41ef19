using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// Counts the bytes a proxy connection sends to its client (headers, bodies, CONNECT tunnels) by wrapping
/// the transport's writer. HTTP/1.1 answers one request at a time per connection, so the difference before
/// and after a request is that request's bytes.
/// </summary>
public sealed class ConnectionBytes : PipeWriter
{
    public const string ItemKey = "cachecluster.bytes";
    private readonly PipeWriter _inner;
    private long _written;

    private ConnectionBytes(PipeWriter inner) => _inner = inner;

    public long Written => Volatile.Read(ref _written);

    /// <summary>Connection middleware for the proxy listeners (install before ConnectTunnel.Remember).</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Count => next => connection =>
    {
        var counter = new ConnectionBytes(connection.Transport.Output);
        connection.Transport = new Duplex(connection.Transport.Input, counter);
        connection.Items[ItemKey] = counter;
        return next(connection);
    };

    public override void Advance(int bytes)
    {
        _written += bytes;
        _inner.Advance(bytes);
    }

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        _written += source.Length;
        return _inner.WriteAsync(source, cancellationToken);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => _inner.GetMemory(sizeHint);
    public override Span<byte> GetSpan(int sizeHint = 0) => _inner.GetSpan(sizeHint);
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => _inner.FlushAsync(cancellationToken);
    public override void CancelPendingFlush() => _inner.CancelPendingFlush();
    public override void Complete(Exception? exception = null) => _inner.Complete(exception);
    public override ValueTask CompleteAsync(Exception? exception = null) => _inner.CompleteAsync(exception);
    public override bool CanGetUnflushedBytes => _inner.CanGetUnflushedBytes;
    public override long UnflushedBytes => _inner.UnflushedBytes;

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
