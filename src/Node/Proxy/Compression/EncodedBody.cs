using CacheCluster.Contracts.Entries;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Compression;

/// <summary>
/// Writes a compressed form to the client: the served head (<see cref="EncodedHeads.Served"/>), then the form's
/// chunks, or the ranges asked for (ranges of the encoded bytes: RFC 9110 14.1.2). Unlike an identity hit, a form
/// whose chunk is lost mid-body cannot be finished from the origin (the origin has no such bytes): the connection
/// is cut, a short body, never a wrong one. A request with If-Range gets the whole form: the served ETag is weak
/// and a date cannot vouch for bytes the cache made itself.
/// </summary>
public sealed class EncodedBody(StoredHead head, ILogger<EncodedBody> logger)
{
    /// <summary>
    /// Writes the form; <paramref name="chunk"/> returns chunk i (null: gone). With <paramref name="keep"/>, returns the
    /// chunks once all were written (for a hot copy); null otherwise.
    /// </summary>
    public async Task<byte[][]?> DeliverAsync(HttpContext ctx, EntryHead served, Func<int, ValueTask<byte[]?>> chunk, TimeSpan age, string cacheStatus,
        bool keep)
    {
        head.Write(ctx, served, age, cacheStatus);
        var aborted = ctx.RequestAborted;
        if (ctx.Request.Headers.IfRange.Count == 0 && RangeResponder.TryPrepare(ctx.Request, served, out var range))
        {
            if (!await RangeResponder.WriteAsync(ctx, range, chunk, RangeResponder.StoreChunkBytes, aborted))
                logger.LogWarning("Compressed form {Key} lost a chunk while serving a range; connection aborted", served.CacheKey);
            return null;
        }
        RangeResponder.AdvertiseRanges(ctx.Response, served);
        ctx.Response.ContentLength = served.BodyLength;
        if (HttpMethods.IsHead(ctx.Request.Method) || served.BodyLength == 0) return null;

        var kept = keep ? new byte[served.ChunkCount][] : null;
        var body = ctx.Response.BodyWriter;
        var next = chunk(0);
        for (int i = 0; i < served.ChunkCount; i++)
        {
            var bytes = await next;
            if (i + 1 < served.ChunkCount) next = chunk(i + 1);
            if (bytes is null)
            {
                logger.LogInformation("Compressed form {Key} lost chunk {Index} after its head went out; connection aborted", served.CacheKey, i);
                ctx.Abort();
                return null;
            }
            if (kept is not null) kept[i] = bytes;
            await body.WriteAsync(bytes, aborted);
        }
        return kept;
    }

    /// <summary>Chunk i of a form from its owner (or from what the lookup carried); null when gone or the owner is unreachable.</summary>
    public static Func<int, ValueTask<byte[]?>> FromOwner(ICacheEntryGrain owner, LookupResult found, long generation) => async i =>
    {
        if (found.Carried(i) is { } carried) return carried;
        try { return (await owner.ReadChunkAsync(generation, i)).Value; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return null; }
    };

    /// <summary>Chunk i of a form held in memory.</summary>
    public static Func<int, ValueTask<byte[]?>> InMemory(byte[][] chunks) => i => new(i < chunks.Length ? chunks[i] : null);

    /// <summary>A body cut into store-sized chunks (as the owner stores it: every chunk full but the last).</summary>
    public static byte[][] Split(byte[] body)
    {
        int size = RangeResponder.StoreChunkBytes;
        var chunks = new byte[(body.Length + size - 1) / size][];
        for (int i = 0; i < chunks.Length; i++) chunks[i] = body.AsSpan(i * size, Math.Min(size, body.Length - i * size)).ToArray();
        return chunks;
    }
}
