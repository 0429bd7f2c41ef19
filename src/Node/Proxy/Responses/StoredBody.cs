using System.Buffers;
using System.Runtime.CompilerServices;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Management.Observability;
using Orleans.Concurrency;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>
/// Serves a stored entry: from this node's hot copy, or from its owner with the chunks fetched one ahead of the
/// write to the client (ranges answered from the overlapping chunks only). A stored body that breaks off after
/// the head went out is finished from the origin (If-Range) or the connection is cut: short, never wrong.
/// </summary>
public sealed class StoredBody(StoredHead head, UpstreamMessages upstream, RangeContinuation continuation, ProxyCounters counters,
    ILogger<StoredBody> logger)
{
    /// <summary>Serves an entry from its owner; with <paramref name="keep"/>, returns the body's chunks for a hot copy.</summary>
    public async Task<byte[][]?> DeliverAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, EntryHead entry, LookupResult found,
        TimeSpan age, string cacheStatus, bool keep)
    {
        var first = found.FirstChunk;
        head.Write(ctx, entry, age, cacheStatus);
        if (RangeResponder.TryPrepare(ctx.Request, entry, out var range))
        {
            // Range request (RFC 9110 14): only the chunks that overlap the ranges are fetched.
            async ValueTask<byte[]?> Chunk(int i) => found.Carried(i) ?? (await owner.ReadChunkAsync(entry.Generation, i)).Value;
            if (!await RangeResponder.WriteAsync(ctx, range, Chunk, RangeResponder.StoreChunkBytes, ctx.RequestAborted))
                logger.LogWarning("Entry {Key} lost a chunk while serving a range; connection aborted", entry.CacheKey);
            return null;
        }
        RangeResponder.AdvertiseRanges(ctx.Response, entry);
        ctx.Response.ContentLength = entry.BodyLength;
        if (entry.BodyLength == 0) return keep ? [] : null;
        if (HttpMethods.IsHead(ctx.Request.Method)) return null;

        var aborted = ctx.RequestAborted;
        var body = ctx.Response.BodyWriter;
        if (first is null)
        {
            ctx.Abort();
            return null;
        }
        await ResponsePipe.StartAsync(ctx.Response, aborted);
        var kept = keep ? new byte[entry.ChunkCount][] : null;
        if (kept is not null) kept[0] = first;
        // Chunks the lookup did not carry are fetched from the owner one ahead of the write to the client.
        Task<Immutable<byte[]?>>? Fetch(int i) =>
            i < entry.ChunkCount && found.Carried(i) is null ? owner.ReadChunkAsync(entry.Generation, i) : null;
        var next = Fetch(1);
        // Chunks at hand go into the response pipe without a flush (ResponsePipe); it flushes once a batch fills the response
        // buffer (lent or not: the batch bounds how far the owner reads run ahead of a slow client), and before waiting
        // on the owner (not when the owner's chunk is already there: one send, not several).
        if (ResponsePipe.Append(ctx, body, first) == ResponsePipe.Appended.Gone)
        {
            ctx.Abort();
            return null;
        }
        long unflushed = first.Length;
        for (int i = 1; i < entry.ChunkCount; i++)
        {
            byte[]? chunk = found.Carried(i);
            bool ownerLost = false;
            if (unflushed >= FlushBatchBytes || (chunk is null && !next!.IsCompleted))
            {
                await body.FlushAsync(aborted);
                unflushed = 0;
            }
            if (chunk is null)
            {
                try { chunk = (await next!).Value; }
                catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { chunk = null; ownerLost = true; }
            }
            next = Fetch(i + 1);
            if (chunk is null)
            {
                // The stored body broke off after the headers went out (unreadable chunk, owner gone): finish it from
                // the origin with If-Range, or cut the connection - a short body, never a wrong one.
                if (await continuation.TryFinishAsync(ctx, upstream.BuildBackground(ctx, target), entry, (long)i * RangeResponder.StoreChunkBytes))
                {
                    counters.BodyContinued();
                    return null;
                }
                counters.BodyAborted(ownerLost ? BodyAbortCause.OwnerUnreachable : BodyAbortCause.StoreChunkMissing);
                ctx.Abort();
                return null;
            }
            if (kept is not null) kept[i] = chunk;
            if (ResponsePipe.Append(ctx, body, chunk) == ResponsePipe.Appended.Gone)
            {
                ctx.Abort();
                return null;
            }
            unflushed += chunk.Length;
        }
        await body.FlushAsync(aborted);
        return kept;
    }

    /// <summary>Serves an entry from its owner after a revalidation, or stale on error: only the first chunk is fetched here.</summary>
    public async Task DeliverStoredAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, EntryHead entry, TimeSpan age, string cacheStatus)
    {
        byte[]? first = null;
        if (entry.BodyLength > 0 && !HttpMethods.IsHead(ctx.Request.Method))
        {
            try { first = (await owner.ReadChunkAsync(entry.Generation, 0)).Value; }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { first = null; }
        }
        await DeliverAsync(ctx, target, owner, entry, new LookupResult(entry, first), age, cacheStatus, keep: false);
    }

    /// <summary>Serves an entry from this node's hot copy (memory only).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))] // pooled: the hot path's box when a flush waits
    public async ValueTask DeliverHotAsync(HttpContext ctx, HotEntries.HotEntry entry, TimeSpan age, string cacheStatus)
    {
        head.Write(ctx, entry.Head, age, cacheStatus);
        if (RangeResponder.TryPrepare(ctx.Request, entry.Head, out var range))
        {
            var chunks = entry.Chunks;
            await RangeResponder.WriteAsync(ctx, range, i => new(i < chunks.Length ? chunks[i] : null), RangeResponder.StoreChunkBytes, ctx.RequestAborted);
            return;
        }
        RangeResponder.AdvertiseRanges(ctx.Response, entry.Head);
        ctx.Response.ContentLength = entry.Head.BodyLength;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        // Chunks the pipe holds as themselves are written at once, one flush for the whole body: they are in memory as
        // the hot copy anyway. Copied ones (HTTP/2, small) are flushed in batches of the response buffer's size.
        var body = ctx.Response.BodyWriter;
        await ResponsePipe.StartAsync(ctx.Response, ctx.RequestAborted);
        long unflushed = 0;
        foreach (var chunk in entry.Chunks)
        {
            if (unflushed >= FlushBatchBytes)
            {
                await body.FlushAsync(ctx.RequestAborted);
                unflushed = 0;
            }
            switch (ResponsePipe.Append(ctx, body, chunk))
            {
                case ResponsePipe.Appended.Copied:
                    unflushed += chunk.Length;
                    break;
                case ResponsePipe.Appended.Gone:
                    ctx.Abort();
                    return;
            }
        }
        await body.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>Bytes written to the response pipe between flushes: Kestrel's response buffer (NodeHost) minus a chunk.</summary>
    internal const int FlushBatchBytes = 192 * 1024;
}
