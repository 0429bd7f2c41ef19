using System.Buffers;
using System.Globalization;
using System.Text;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Storage;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy;

/// <summary>What a range request gets from a complete stored entry: 206 with these ranges, or 416.</summary>
public sealed record RangePlan(RangeOutcome Outcome, ByteRange[] Ranges, long Length, string? ContentType)
{
    public bool Unsatisfiable => Outcome == RangeOutcome.Unsatisfiable;
    public bool Multipart => Ranges.Length > 1;
}

/// <summary>
/// Answers <c>Range</c> requests (RFC 9110 14) from a complete stored 200 response, fetching only the body chunks
/// that overlap the requested ranges. The caller writes the stored status and headers first (plus Age, Via,
/// Cache-Status); <see cref="WriteAsync"/> then overrides the status and the length-related headers and writes
/// the body. Range handling is defined for GET only: a HEAD (or any other method) with Range gets the full
/// response's headers (RFC 9110 14.2).
/// </summary>
public static class RangeResponder
{
    /// <summary>The size of every stored body chunk but the last (owner reads and hot copies alike).</summary>
    public const int StoreChunkBytes = EntryStore.MaxChunkBytes;

    /// <summary>
    /// Whether this request gets a partial answer (206 or 416) from <paramref name="head"/>; false means: serve
    /// the full response as usual (no/invalid/ignored Range, If-Range does not hold, not a GET of a stored 200).
    /// </summary>
    public static bool TryPrepare(HttpRequest request, EntryHead head, out RangePlan plan)
    {
        plan = null!;
        if (!HttpMethods.IsGet(request.Method) || head.Status != StatusCodes.Status200OK || head.BodyLength < 0) return false;
        var range = request.Headers.Range;
        // Range is a singleton field: none, or several field lines (invalid), means no range handling.
        if (range.Count != 1) return false;
        var ifRange = request.Headers.IfRange;
        if (ifRange.Count > 1) return false;
        if (ifRange.Count == 1 && !ByteRanges.IfRangeHolds(ifRange[0], HeaderPairs.Get(head.Headers, HeaderNames.ETag),
                HeaderPairs.Get(head.Headers, HeaderNames.LastModified), HeaderPairs.Get(head.Headers, HeaderNames.Date)))
            return false;
        var outcome = ByteRanges.Parse(range[0], head.BodyLength, out var ranges);
        if (outcome == RangeOutcome.Ignore) return false;
        plan = new RangePlan(outcome, ranges, head.BodyLength, HeaderPairs.Get(head.Headers, HeaderNames.ContentType));
        return true;
    }

    /// <summary>
    /// Sets status 206 (with <c>Content-Range</c>, or <c>multipart/byteranges</c>) or 416 and <c>Content-Length</c>,
    /// and streams the selected bytes. <paramref name="getChunk"/> returns body chunk i (each
    /// <paramref name="chunkSize"/> bytes except the last) or null when it is gone; only the chunks overlapping a
    /// range are asked for, in order, one ahead of the write. A missing or malformed chunk mid-body aborts the
    /// connection (a short body, never a wrong one) and returns false; true when the response was written whole.
    /// </summary>
    public static async Task<bool> WriteAsync(HttpContext ctx, RangePlan plan, Func<int, ValueTask<byte[]?>> getChunk,
        int chunkSize, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSize);
        var response = ctx.Response;
        var headers = response.Headers;
        // The stored reason phrase ("OK") belongs to the 200; let the server pick the new status's phrase.
        if (ctx.Features.Get<IHttpResponseFeature>() is { } feature) feature.ReasonPhrase = null;
        // Digests of the full content do not describe a part (Repr-Digest, of the representation, stays).
        headers.Remove("Content-MD5");
        headers.Remove("Content-Digest");

        if (plan.Unsatisfiable)
        {
            response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
            headers.ContentRange = ByteRanges.UnsatisfiedContentRange(plan.Length);
            headers.Remove(HeaderNames.ContentType);
            response.ContentLength = 0;
            return true;
        }

        response.StatusCode = StatusCodes.Status206PartialContent;
        var segments = new List<Segment>();
        long total = 0;
        if (!plan.Multipart)
        {
            var r = plan.Ranges[0];
            headers.ContentRange = ByteRanges.ContentRange(r, plan.Length);
            AddSlices(segments, r, chunkSize);
            total = r.Length;
        }
        else
        {
            var boundary = "CacheCluster-" + Guid.NewGuid().ToString("N");
            headers.ContentType = "multipart/byteranges; boundary=" + boundary;
            headers.Remove(HeaderNames.ContentRange);
            for (int i = 0; i < plan.Ranges.Length; i++)
            {
                var r = plan.Ranges[i];
                var partHead = new StringBuilder(128);
                if (i > 0) partHead.Append("\r\n");
                partHead.Append("--").Append(boundary).Append("\r\n");
                if (plan.ContentType is { } type) partHead.Append("Content-Type: ").Append(type).Append("\r\n");
                partHead.Append("Content-Range: ").Append(ByteRanges.ContentRange(r, plan.Length)).Append("\r\n\r\n");
                var bytes = Encoding.Latin1.GetBytes(partHead.ToString());
                segments.Add(new Segment(bytes, -1, 0, bytes.Length));
                total += bytes.Length;
                AddSlices(segments, r, chunkSize);
                total += r.Length;
            }
            var close = Encoding.Latin1.GetBytes("\r\n--" + boundary + "--\r\n");
            segments.Add(new Segment(close, -1, 0, close.Length));
            total += close.Length;
        }
        response.ContentLength = total;
        headers.AcceptRanges = "bytes";
        if (HttpMethods.IsHead(ctx.Request.Method)) return true;

        // The distinct chunks in the order they are written, fetched one ahead.
        var order = new List<int>();
        foreach (var s in segments)
            if (s.Literal is null && (order.Count == 0 || order[^1] != s.Chunk)) order.Add(s.Chunk);

        async ValueTask<byte[]?> Fetch(int index)
        {
            try { return await getChunk(index); }
            catch (Exception) when (!ct.IsCancellationRequested) { return null; } // unreachable owner: treat as gone
        }

        var body = response.BodyWriter;
        // At most this much is written without a flush (a flush waits while the client reads slowly), so a
        // client that does not read holds a bounded amount of memory however many ranges it asked for.
        const int MaxUnflushed = 256 * 1024;
        long unflushed = 0;
        int pos = 0, currentIndex = -1;
        byte[]? current = null;
        ValueTask<byte[]?> next = order.Count > 0 ? Fetch(order[0]) : default;
        foreach (var s in segments)
        {
            if (unflushed > MaxUnflushed)
            {
                await body.FlushAsync(ct);
                unflushed = 0;
            }
            if (s.Literal is { } literal)
            {
                body.Write(literal);
                unflushed += literal.Length;
                continue;
            }
            if (s.Chunk != currentIndex)
            {
                // Chunks at hand complete synchronously; otherwise what is buffered goes out before the wait.
                if (!next.IsCompleted) { await body.FlushAsync(ct); unflushed = 0; }
                current = await next;
                currentIndex = order[pos++];
                next = pos < order.Count ? Fetch(order[pos]) : default;
                long chunkStart = (long)currentIndex * chunkSize;
                long expected = Math.Min(chunkSize, plan.Length - chunkStart);
                if (current is null || current.Length != expected)
                {
                    ctx.Abort();
                    return false;
                }
            }
            body.Write(current.AsSpan(s.From, s.Count));
            unflushed += s.Count;
        }
        await body.FlushAsync(ct);
        return true;
    }

    /// <summary>Adds a <c>Accept-Ranges: bytes</c> to a full response from a stored 200 that does not say otherwise.</summary>
    public static void AdvertiseRanges(HttpResponse response, EntryHead head)
    {
        if (head.Status == StatusCodes.Status200OK && head.BodyLength >= 0 && !response.Headers.ContainsKey(HeaderNames.AcceptRanges))
            response.Headers.AcceptRanges = "bytes";
    }

    /// <summary>A piece of the response body: literal bytes (multipart framing) or a slice of chunk <see cref="Chunk"/>.</summary>
    private readonly record struct Segment(byte[]? Literal, int Chunk, int From, int Count);

    private static void AddSlices(List<Segment> segments, ByteRange r, int chunkSize)
    {
        for (long index = r.First / chunkSize; index <= r.Last / chunkSize; index++)
        {
            long chunkStart = index * chunkSize;
            long from = Math.Max(r.First, chunkStart) - chunkStart;
            long to = Math.Min(r.Last, chunkStart + chunkSize - 1) - chunkStart;
            segments.Add(new Segment(null, checked((int)index), (int)from, (int)(to - from + 1)));
        }
    }
}
