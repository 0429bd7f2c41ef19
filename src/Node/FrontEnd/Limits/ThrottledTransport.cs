using System.IO.Pipelines;
using System.Threading.RateLimiting;

namespace CacheCluster.Node.FrontEnd.Limits;

/// <summary>
/// Per-client bandwidth cap (Limits:ClientBandwidth): the connection's output pipe waits on the client
/// address's byte budget (a token bucket shared by all its connections, one second of burst) before each
/// flush, so responses and CONNECT tunnels alike are paced without touching the request path.
/// </summary>
internal sealed class ThrottledWriter(PipeWriter inner, RateLimiter budget, int maxPermits) : PipeWriter
{
    private long _pending;

    public override void Advance(int bytes)
    {
        _pending += bytes;
        inner.Advance(bytes);
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    public override void CancelPendingFlush() => inner.CancelPendingFlush();
    public override void Complete(Exception? exception = null) => inner.Complete(exception);
    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;
    public override long UnflushedBytes => inner.UnflushedBytes;

    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        var bytes = _pending;
        _pending = 0;
        while (bytes > 0)
        {
            int take = (int)Math.Min(bytes, maxPermits);
            using var lease = await budget.AcquireAsync(take, cancellationToken);
            if (!lease.IsAcquired) break; // queue full: let it pass rather than stall the connection for ever
            bytes -= take;
        }
        return await inner.FlushAsync(cancellationToken);
    }
}

internal sealed class ThrottledPipe(IDuplexPipe inner, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input => inner.Input;
    public PipeWriter Output => output;
}
