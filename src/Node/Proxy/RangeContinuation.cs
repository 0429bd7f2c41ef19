using System.Buffers;
using CacheCluster.Contracts.Entries;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// Finishes a hit whose stored body turned out incomplete after its headers went out (a chunk unreadable: disk
/// error, crash recovery, or eviction overtaking the store's reinserter). The rest is fetched from the origin with
/// <c>Range: bytes=N-</c> guarded by <c>If-Range</c> with the stored strong validator (RFC 9110 13.1.5, 14.2), so
/// the bytes can only come from the same representation. Returns false when that is impossible (no strong
/// validator, origin unreachable, a full 200 or another representation, a short body): the caller cuts the
/// connection, and the client sees a short body, never a wrong one.
/// </summary>
public sealed class RangeContinuation(OriginClient origin, ILogger<RangeContinuation> logger)
{
    /// <summary>
    /// Streams bytes <paramref name="offset"/>..end of <paramref name="head"/>'s body from the origin into the
    /// response. <paramref name="request"/> is the client's request as it would go upstream (ranges and conditionals
    /// removed); it is disposed here.
    /// </summary>
    public async Task<bool> TryFinishAsync(HttpContext ctx, HttpRequestMessage request, EntryHead head, long offset)
    {
        using var _ = request;
        var validator = IfRangeValidator(head);
        if (validator is null)
        {
            logger.LogWarning("Entry {Key} lost part of its body after {Offset} bytes were sent and has no strong validator to resume it with; connection aborted",
                head.CacheKey, offset);
            return false;
        }

        long length = head.BodyLength;
        request.Headers.TryAddWithoutValidation(HeaderNames.Range, $"bytes={offset}-{length - 1}");
        request.Headers.TryAddWithoutValidation(HeaderNames.IfRange, validator);
        var aborted = ctx.RequestAborted;
        try
        {
            using var response = await origin.SendAsync(request, aborted);
            var range = response.Content.Headers.ContentRange;
            if ((int)response.StatusCode != StatusCodes.Status206PartialContent || range is null || range.From != offset
                || range.To != length - 1 || range.Length != length || !SameEntityTag(response, head))
            {
                logger.LogWarning("Entry {Key} lost part of its body after {Offset} bytes; the origin did not resume it (status {Status}); connection aborted",
                    head.CacheKey, offset, (int)response.StatusCode);
                return false;
            }

            long remaining = length - offset;
            await using var body = await response.Content.ReadAsStreamAsync(aborted);
            var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                while (remaining > 0)
                {
                    int n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), aborted);
                    if (n == 0) break;
                    await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, n), aborted);
                    remaining -= n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (remaining != 0)
            {
                logger.LogWarning("Entry {Key}: the origin's resumed body ended {Missing} bytes early; connection aborted", head.CacheKey, remaining);
                return false;
            }

            logger.LogInformation("Entry {Key} lost part of its body after {Offset} bytes; the rest came from the origin (If-Range)", head.CacheKey, offset);
            return true;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            logger.LogWarning("Entry {Key} lost part of its body after {Offset} bytes; resuming from the origin failed ({Message}); connection aborted",
                head.CacheKey, offset, ex.Message);
            return false;
        }
    }

    /// <summary>The stored strong validator for If-Range: a strong ETag, else a Last-Modified at least a second
    /// older than the response's Date (RFC 9110 8.8.2.2); null when there is none.</summary>
    internal static string? IfRangeValidator(EntryHead head)
    {
        string? etag = Header(head, HeaderNames.ETag), lastModified = Header(head, HeaderNames.LastModified), date = Header(head, HeaderNames.Date);
        if (etag is not null && !etag.StartsWith("W/", StringComparison.Ordinal) && etag.StartsWith('"'))
            return etag;
        if (lastModified is not null && date is not null
            && DateTimeOffset.TryParse(lastModified, out var modified) && DateTimeOffset.TryParse(date, out var sent)
            && sent - modified >= TimeSpan.FromSeconds(1))
        {
            return lastModified;
        }

        return null;
    }

    private static bool SameEntityTag(HttpResponseMessage response, EntryHead head)
    {
        var stored = Header(head, HeaderNames.ETag);
        if (stored is null || response.Headers.ETag is null) return true; // resumed by date: the origin vouched with If-Range
        return string.Equals(response.Headers.ETag.ToString(), stored, StringComparison.Ordinal);
    }

    private static string? Header(EntryHead head, string name)
    {
        var headers = head.Headers;
        for (int i = 0; i + 1 < headers.Length; i += 2)
            if (headers[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return headers[i + 1];
        return null;
    }
}
