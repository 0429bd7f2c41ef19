using System.Buffers;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>
/// Streams the origin body to the client and, when storing, to the fill. The fill commits only once the
/// body's framing says it ended (RFC 9112 6.3: the last chunk, or the declared length followed by the end
/// the length stream reports at once), before the client sees the last byte of a Content-Length body, so a
/// client that asks again right away already gets a hit (the owner holds lookups until a commit it received is
/// written; the client itself waits for it at most <see cref="CommitPatience"/>). On an origin failure mid-body, or an origin that
/// sends nothing for Proxy:OriginIdleTimeout, the client connection is aborted (a truncated body never looks
/// complete) and the fill with it (followers are cut off too); a client abort ends the copy (and the fill).
/// </summary>
public sealed class BodyCopy(NodeSettings settings, ILogger<BodyCopy> logger)
{
    public async Task CopyAsync(HttpContext ctx, HttpResponseMessage originResponse, FillLeader? fill, string method)
    {
        if (HttpMethods.IsHead(method)) return; // no body; a HEAD never leads a fill
        var aborted = ctx.RequestAborted;
        var declared = originResponse.Content.Headers.ContentLength; // BodyFraming.Of removed one chunked overrides
        long total = 0;
        var idleTimeout = settings.Proxy.OriginIdleTimeout;
        fill?.ExpectLength(declared);
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        try
        {
            await using var source = await originResponse.Content.ReadAsStreamAsync(aborted);
            var body = ctx.Response.Body;
            while (true)
            {
                int n = await ReadOriginAsync(source, buffer);
                if (n < 0) return;
                if (n == 0)
                {
                    await CommitAsync(fill, originResponse); // the framing says the body ended
                    break;
                }
                total += n;
                if (fill is { Active: true })
                {
                    await fill.AddAsync(buffer.AsMemory(0, n));
                    // At the declared length the length stream reports its end without waiting: commit first.
                    if (declared == total && fill.Active)
                    {
                        int more = await ReadOriginAsync(source, new byte[1]);
                        if (more < 0) return;
                        if (more == 0) await CommitAsync(fill, originResponse);
                        else await fill.AbortAsync(); // more than declared: never stored
                    }
                }
                try
                {
                    await body.WriteAsync(buffer.AsMemory(0, n), aborted);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    return; // the client went away
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // One read of the origin body, bounded by the idle timeout; -1 when it failed (client connection aborted).
        async Task<int> ReadOriginAsync(Stream source, byte[] into)
        {
            try
            {
                idle.CancelAfter(idleTimeout);
                int read = await source.ReadAsync(into, idle.Token);
                idle.CancelAfter(Timeout.InfiniteTimeSpan); // a slow client is not the origin's idleness
                return read;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
            {
                if (!aborted.IsCancellationRequested && idle.IsCancellationRequested)
                    logger.LogInformation("Origin body for {Url} sent nothing for {Seconds} s after {Bytes} bytes (Proxy:OriginIdleTimeout); given up",
                        originResponse.RequestMessage?.RequestUri, idleTimeout.TotalSeconds, total);
                else if (!aborted.IsCancellationRequested)
                    logger.LogInformation("Origin body for {Url} failed mid-transfer after {Bytes} bytes: {Message}",
                        originResponse.RequestMessage?.RequestUri, total, ex.Message);
                ctx.Abort();
                return -1;
            }
        }
    }

    /// <summary>
    /// How long the client's last bytes wait for the commit. The owner makes lookups wait for a commit it has received,
    /// so a client asking again right away still gets the entry; this only bounds what a store held by a checkpoint
    /// (tens of milliseconds, more on a busy disk) adds to a miss.
    /// </summary>
    internal static readonly TimeSpan CommitPatience = TimeSpan.FromMilliseconds(20);

    private async Task CommitAsync(FillLeader? fill, HttpResponseMessage originResponse)
    {
        if (fill is not { Active: true }) return;
        var commit = CommitAndReportAsync(fill, originResponse.RequestMessage?.RequestUri);
        if (commit.IsCompleted) return;
        try { await commit.WaitAsync(CommitPatience); }
        catch (TimeoutException) { /* it finishes on its own (and reports its failure) */ }
    }

    private async Task CommitAndReportAsync(FillLeader fill, Uri? url)
    {
        try
        {
            if (!await fill.CommitAsync())
                logger.LogWarning("The owner refused to commit {Url}", url);
        }
        catch (Exception ex)
        {
            logger.LogWarning("Storing {Url} failed at its commit: {Message}", url, ex.Message);
        }
    }
}
