using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.TestOrigin;

/// <summary>The request handlers. See README.md in this folder for the endpoint list.</summary>
internal static class OriginHandlers
{
    /// <summary>Size of each body write for streamed bodies.</summary>
    private const int WriteChunk = 32 * 1024;

    /// <summary>Size of each write for /slow-body.</summary>
    private const int SlowChunk = 16 * 1024;

    private static readonly byte[] NotFoundBody = "not found\n"u8.ToArray();

    public static async Task HandleAsync(HttpContext context, OriginState state)
    {
        var request = context.Request;
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (request.Path + request.QueryString).ToString();
        var pathAndQuery = ToOriginForm(rawTarget);
        var receivedAt = DateTimeOffset.UtcNow;
        var path = request.Path.Value ?? "/";
        var ct = context.RequestAborted;

        try
        {
            if (path == "/_origin/stats")
            {
                // Not recorded or counted: lets a benchmark check how many requests reached the origin.
                var stats = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"totalRequests\":{state.Total},\"completedResponses\":{state.Completed},\"abortedResponses\":{state.Aborted}}}\n"));
                context.Response.ContentType = "application/json";
                context.Response.Headers.CacheControl = "no-store";
                context.Response.ContentLength = stats.Length;
                await context.Response.Body.WriteAsync(stats, ct).ConfigureAwait(false);
                return;
            }
            if (path == "/echo")
            {
                await EchoAsync(context, state, rawTarget, pathAndQuery, receivedAt).ConfigureAwait(false);
                return;
            }

            var bodyLength = await DrainRequestBodyAsync(context).ConfigureAwait(false);
            var seq = state.NextSequence();
            state.Record(new RecordedRequest(seq, request.Method, rawTarget, pathAndQuery, request.Protocol, request.Scheme,
                CopyHeaders(request.Headers), bodyLength, receivedAt));
            context.Response.Headers["X-Origin-Seq"] = seq.ToString(CultureInfo.InvariantCulture);

            var (endpoint, argument) = SplitEndpoint(path);
            switch (endpoint)
            {
                case "bytes" when IsGetOrHead(request) && OriginContent.TryParseSize(argument, out var size):
                    await BytesAsync(context, state, path, size).ConfigureAwait(false);
                    break;
                case "bytes" or "text" when !IsGetOrHead(request) && OriginContent.TryParseSize(argument, out _):
                    // Unsafe methods on a cacheable URL (invalidation tests): 200, small body, cc only if asked for.
                    await DelayAsync(context).ConfigureAwait(false);
                    await SmallAsync(context, state, 200, Encoding.ASCII.GetBytes(request.Method + " ok\n"), defaultCacheControl: null).ConfigureAwait(false);
                    break;
                case "text" when IsGetOrHead(request) && OriginContent.TryParseSize(argument, out var size) && size <= 64L << 20:
                    await TextAsync(context, state, path, size).ConfigureAwait(false);
                    break;
                case "abort" when IsGetOrHead(request) && OriginContent.TryParseSize(argument, out var size):
                    await AbortAsync(context, state, path, size).ConfigureAwait(false);
                    break;
                case "slow-body" when IsGetOrHead(request) && OriginContent.TryParseSize(argument, out var size):
                    await SlowBodyAsync(context, state, path, size).ConfigureAwait(false);
                    break;
                case "status" when int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 200 and <= 599:
                    await StatusAsync(context, state, code).ConfigureAwait(false);
                    break;
                case "scripted":
                    await ScriptedResponses.HandleAsync(context, state, path).ConfigureAwait(false);
                    break;
                case "location":
                    await LocationAsync(context, state).ConfigureAwait(false);
                    break;
                case "" when path == "/":
                    await SmallAsync(context, state, 200, "TestOrigin\n"u8.ToArray(), "no-store").ConfigureAwait(false);
                    break;
                default:
                    context.Response.StatusCode = 404;
                    context.Response.ContentLength = NotFoundBody.Length;
                    context.Response.ContentType = "text/plain";
                    if (!HttpMethods.IsHead(request.Method)) await context.Response.Body.WriteAsync(NotFoundBody, ct).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or IOException or ConnectionAbortedException)
        {
            state.ResponseAborted();
        }
    }

    // /bytes/{size}: deterministic body, streamed; conditional GET supported when etag= / lm= are given.
    private static async Task BytesAsync(HttpContext context, OriginState state, string path, long size)
    {
        var query = context.Request.Query;
        await DelayAsync(context).ConfigureAwait(false);
        var response = context.Response;
        response.StatusCode = 200;
        ApplyCommonHeaders(context, state, defaultCacheControl: "max-age=3600", defaultContentType: "application/octet-stream");

        if (IsNotModified(context))
        {
            response.StatusCode = 304;
            response.Headers.ContentType = default;
            state.ResponseCompleted();
            return;
        }

        var chunked = query["chunked"] == "1";
        // ranges=1: a single byte range is honoured (If-Range compared exactly with the ETag or Last-Modified sent).
        long skip = 0;
        if (query["ranges"] == "1" && TryRange(context, size, out var from, out var to))
        {
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{to}/{size}";
            skip = from;
            size = to - from + 1;
        }
        if (!chunked) response.ContentLength = size;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            state.ResponseCompleted();
            return;
        }

        var seed = OriginContent.SeedFor(path, query["seed"].ToString());
        if (await WriteBodyAsync(context, seed, size, WriteChunk, delayMs: 0, skip).ConfigureAwait(false)) state.ResponseCompleted();
        else state.ResponseAborted();
    }

    // /text/{size}: compressible deterministic text (TextContent), with the same conditionals and ranges=1 as /bytes.
    private static async Task TextAsync(HttpContext context, OriginState state, string path, long size)
    {
        var query = context.Request.Query;
        await DelayAsync(context).ConfigureAwait(false);
        var response = context.Response;
        response.StatusCode = 200;
        ApplyCommonHeaders(context, state, defaultCacheControl: "max-age=3600", defaultContentType: "text/html; charset=utf-8");
        if (IsNotModified(context))
        {
            response.StatusCode = 304;
            response.Headers.ContentType = default;
            state.ResponseCompleted();
            return;
        }
        var body = TextContent.Generate(OriginContent.SeedFor(path, query["seed"].ToString()), size);
        var (from, count) = (0L, size);
        if (query["ranges"] == "1" && TryRange(context, size, out var first, out var last))
        {
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {first}-{last}/{size}";
            (from, count) = (first, last - first + 1);
        }
        response.ContentLength = count;
        if (!HttpMethods.IsHead(context.Request.Method))
            await response.Body.WriteAsync(body.AsMemory((int)from, (int)count), context.RequestAborted).ConfigureAwait(false);
        state.ResponseCompleted();
    }

    /// <summary>A single satisfiable <c>bytes=a-[b]</c> range whose If-Range (if any) names the current validator.</summary>
    private static bool TryRange(HttpContext context, long size, out long from, out long to)
    {
        (from, to) = (0, size - 1);
        var range = context.Request.Headers.Range.ToString();
        if (!range.StartsWith("bytes=", StringComparison.Ordinal) || range.Contains(',')) return false;
        var ifRange = context.Request.Headers.IfRange.ToString();
        if (ifRange.Length > 0 && ifRange != context.Response.Headers.ETag.ToString() && ifRange != context.Response.Headers.LastModified.ToString())
            return false;
        var parts = range["bytes=".Length..].Split('-');
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out from) || from >= size) return false;
        to = parts[1].Length == 0 ? size - 1
            : long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? Math.Min(last, size - 1) : -1;
        return to >= from;
    }

    // /abort/{size}?after=N: promise size bytes, send N, then drop the connection.
    private static async Task AbortAsync(HttpContext context, OriginState state, string path, long size)
    {
        var query = context.Request.Query;
        var after = long.TryParse(query["after"], NumberStyles.None, CultureInfo.InvariantCulture, out var a) ? Math.Min(a, size) : size / 2;
        await DelayAsync(context).ConfigureAwait(false);
        ApplyCommonHeaders(context, state, defaultCacheControl: "max-age=3600", defaultContentType: "application/octet-stream");
        context.Response.ContentLength = size;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            var seed = OriginContent.SeedFor(path, query["seed"].ToString());
            await WriteBodyAsync(context, seed, after, WriteChunk, delayMs: 0).ConfigureAwait(false);
            // Give the bytes a moment to reach the client before the connection goes.
            var wait = int.TryParse(query["wait"], NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w : 20;
            if (wait > 0) await Task.Delay(wait, context.RequestAborted).ConfigureAwait(false);
        }
        context.Abort();
    }

    // /slow-body/{size}?ms=N: headers at once, then 16 KiB every N ms.
    private static async Task SlowBodyAsync(HttpContext context, OriginState state, string path, long size)
    {
        var query = context.Request.Query;
        var ms = int.TryParse(query["ms"], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : 100;
        await DelayAsync(context).ConfigureAwait(false);
        ApplyCommonHeaders(context, state, defaultCacheControl: "max-age=3600", defaultContentType: "application/octet-stream");
        if (query["chunked"] != "1") context.Response.ContentLength = size;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            state.ResponseCompleted();
            return;
        }
        await context.Response.StartAsync(context.RequestAborted).ConfigureAwait(false);
        await context.Response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        var seed = OriginContent.SeedFor(path, query["seed"].ToString());
        if (await WriteBodyAsync(context, seed, size, SlowChunk, ms).ConfigureAwait(false)) state.ResponseCompleted();
        else state.ResponseAborted();
    }

    // /status/{code}: that status and a small body.
    private static async Task StatusAsync(HttpContext context, OriginState state, int code)
    {
        await DelayAsync(context).ConfigureAwait(false);
        var body = code is 204 or 304 ? [] : Encoding.ASCII.GetBytes($"status {code}\n");
        await SmallAsync(context, state, code, body, "max-age=3600").ConfigureAwait(false);
    }

    // /location/{anything}: 201 with Location: loc= (and Content-Location: cloc=), any method.
    private static async Task LocationAsync(HttpContext context, OriginState state)
    {
        await DelayAsync(context).ConfigureAwait(false);
        await SmallAsync(context, state, 201, "created\n"u8.ToArray(), defaultCacheControl: null).ConfigureAwait(false);
    }

    private static async Task SmallAsync(HttpContext context, OriginState state, int status, byte[] body, string? defaultCacheControl)
    {
        var response = context.Response;
        response.StatusCode = status;
        ApplyCommonHeaders(context, state, defaultCacheControl, defaultContentType: "text/plain");
        if (status is 204 or 304)
        {
            response.Headers.ContentType = default;
        }
        else
        {
            response.ContentLength = body.Length;
            if (!HttpMethods.IsHead(context.Request.Method) && body.Length > 0)
                await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
        }
        state.ResponseCompleted();
    }

    // /echo: describes the request as received; body read streaming and hashed.
    private static async Task EchoAsync(HttpContext context, OriginState state, string rawTarget, string pathAndQuery, DateTimeOffset receivedAt)
    {
        var request = context.Request;
        var ct = context.RequestAborted;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        if (request.Body is { } body)
        {
            var buffer = new byte[WriteChunk];
            int n;
            while ((n = await body.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                length += n;
            }
        }
        var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
        var headers = CopyHeaders(request.Headers);
        var seq = state.NextSequence();
        state.Record(new RecordedRequest(seq, request.Method, rawTarget, pathAndQuery, request.Protocol, request.Scheme, headers, length, receivedAt));

        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-store";
        response.Headers["X-Origin-Seq"] = seq.ToString(CultureInfo.InvariantCulture);

        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("method", request.Method);
            w.WriteString("target", rawTarget);
            w.WriteString("pathAndQuery", pathAndQuery);
            w.WriteString("protocol", request.Protocol);
            w.WriteString("scheme", request.Scheme);
            w.WriteStartObject("headers");
            foreach (var (name, values) in headers)
            {
                w.WriteStartArray(name);
                foreach (var v in values) w.WriteStringValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteNumber("bodyLength", length);
            w.WriteString("bodySha256", sha);
            w.WriteNumber("sequence", seq);
            w.WriteEndObject();
        }
        json.WriteByte((byte)'\n');
        response.ContentLength = json.Length;
        if (!HttpMethods.IsHead(request.Method))
            await response.Body.WriteAsync(json.GetBuffer().AsMemory(0, (int)json.Length), ct).ConfigureAwait(false);
        state.ResponseCompleted();
    }

    /// <summary>Writes <paramref name="size"/> generated bytes. Returns false if the client went away.</summary>
    private static async Task<bool> WriteBodyAsync(HttpContext context, ulong seed, long size, int chunk, int delayMs, long skip = 0)
    {
        var ct = context.RequestAborted;
        var writer = context.Response.BodyWriter;
        var generator = new ContentGenerator(seed);
        generator.Skip(skip);
        // Bodies larger than one write: send the headers first. (Kestrel was measured here to stall for tens of ms
        // per flush when large GetMemory/Advance/Flush cycles begin before the response has started.)
        if (size > chunk && !context.Response.HasStarted)
            await context.Response.StartAsync(ct).ConfigureAwait(false);
        for (long left = size; left > 0;)
        {
            var n = (int)Math.Min(chunk, left);
            var memory = writer.GetMemory(n);
            generator.Fill(memory.Span[..n]);
            writer.Advance(n);
            left -= n;
            // Flush every write, the last one too: backpressure, and Kestrel was seen here leaving an unflushed
            // final write of a Content-Length response in its buffer until the keep-alive timeout.
            var result = await writer.FlushAsync(ct).ConfigureAwait(false);
            if (result.IsCanceled || result.IsCompleted) return left == 0 && !ct.IsCancellationRequested;
            if (delayMs > 0 && left > 0) await Task.Delay(delayMs, ct).ConfigureAwait(false);
        }
        return !ct.IsCancellationRequested;
    }

    /// <summary>Headers driven by query parameters, shared by every endpoint except /echo.</summary>
    private static void ApplyCommonHeaders(HttpContext context, OriginState state, string? defaultCacheControl, string defaultContentType)
    {
        var query = context.Request.Query;
        var headers = context.Response.Headers;
        var now = DateTimeOffset.UtcNow;

        var cc = query.TryGetValue("cc", out var ccValue) ? ccValue.ToString() : defaultCacheControl;
        if (!string.IsNullOrEmpty(cc) && cc != "none") headers.CacheControl = cc;

        if (TryGetInt(query, "expires", out var expires))
            headers.Expires = now.AddSeconds(expires).ToString("r", CultureInfo.InvariantCulture);
        if (GetETag(context) is { } etag)
            headers.ETag = etag;
        if (GetLastModified(context, state) is { } lastModified)
            headers.LastModified = lastModified.ToString("r", CultureInfo.InvariantCulture);

        var contentType = query["ct"].ToString();
        headers.ContentType = string.IsNullOrEmpty(contentType) ? defaultContentType : contentType;

        var vary = query["vary"].ToString();
        if (!string.IsNullOrEmpty(vary))
        {
            headers.Vary = vary;
            // Which variant this is: the values of the varied request headers as the origin saw them.
            headers["X-Origin-Vary-Value"] = string.Join("; ", vary.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(h => h + "=" + context.Request.Headers[h].ToString()));
        }
        // Surrogate keys for purge-by-tag tests (management API).
        if (query["skey"].ToString() is { Length: > 0 } surrogateKey)
            headers["Surrogate-Key"] = surrogateKey;
        if (query["ctag"].ToString() is { Length: > 0 } cacheTag)
            headers["Cache-Tag"] = cacheTag;
        if (query["setcookie"] == "1")
            headers.SetCookie = "origin_session=" + headers["X-Origin-Seq"].ToString() + "; Path=/";
        if (query["loc"].ToString() is { Length: > 0 } location)
            headers.Location = location;
        if (query["cloc"].ToString() is { Length: > 0 } contentLocation)
            headers.ContentLocation = contentLocation;
    }

    private static string? GetETag(HttpContext context)
    {
        var etag = context.Request.Query["etag"].ToString();
        if (string.IsNullOrEmpty(etag)) return null;
        return etag.StartsWith('"') || etag.StartsWith("W/\"", StringComparison.Ordinal) ? etag : "\"" + etag + "\"";
    }

    private static DateTimeOffset? GetLastModified(HttpContext context, OriginState state)
    {
        if (!TryGetInt(context.Request.Query, "lm", out var secondsAgo)) return null;
        var t = state.StartedAt.AddSeconds(-secondsAgo);
        return new DateTimeOffset(t.Ticks - t.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }

    /// <summary>RFC 9110 13.2: If-None-Match (weak comparison) wins over If-Modified-Since.</summary>
    private static bool IsNotModified(HttpContext context)
    {
        var request = context.Request;
        var etag = context.Response.Headers.ETag.ToString();
        var ifNoneMatch = request.Headers.IfNoneMatch.ToString();
        if (!string.IsNullOrEmpty(ifNoneMatch))
        {
            if (string.IsNullOrEmpty(etag)) return false;
            if (ifNoneMatch.Trim() == "*") return true;
            var opaque = StripWeak(etag);
            return ifNoneMatch.Split(',', StringSplitOptions.TrimEntries).Any(t => StripWeak(t) == opaque);
        }
        var lastModified = context.Response.Headers.LastModified.ToString();
        var ifModifiedSince = request.Headers.IfModifiedSince.ToString();
        if (!string.IsNullOrEmpty(lastModified) && !string.IsNullOrEmpty(ifModifiedSince) &&
            HeaderUtilities.TryParseDate(ifModifiedSince, out var since) &&
            HeaderUtilities.TryParseDate(lastModified, out var modified))
        {
            return modified <= since;
        }
        return false;

        static string StripWeak(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
    }

    private static async Task DelayAsync(HttpContext context)
    {
        if (TryGetInt(context.Request.Query, "delay", out var ms) && ms > 0)
            await Task.Delay(ms, context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<long> DrainRequestBodyAsync(HttpContext context)
    {
        var detection = context.Features.Get<IHttpRequestBodyDetectionFeature>();
        if (detection is { CanHaveBody: false }) return 0;
        long total = 0;
        var buffer = new byte[WriteChunk];
        int n;
        while ((n = await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false)) > 0) total += n;
        return total;
    }

    private static Dictionary<string, string[]> CopyHeaders(IHeaderDictionary headers)
    {
        var copy = new Dictionary<string, string[]>(headers.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in headers) copy[name] = values.ToArray()!;
        return copy;
    }

    private static bool TryGetInt(IQueryCollection query, string name, out int value)
    {
        value = 0;
        return query.TryGetValue(name, out var v) &&
               int.TryParse(v.ToString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    private static bool IsGetOrHead(HttpRequest request) => HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);

    /// <summary>"/bytes/64k" -> ("bytes", "64k"); "/location/a/b" -> ("location", "a/b"); "/" -> ("", "").</summary>
    private static (string Endpoint, string Argument) SplitEndpoint(string path)
    {
        var p = path.AsSpan().TrimStart('/');
        var slash = p.IndexOf('/');
        return slash < 0 ? (p.ToString(), "") : (p[..slash].ToString(), p[(slash + 1)..].TrimEnd('/').ToString());
    }

    /// <summary>Absolute-form targets are reduced to their path and query; origin-form is returned as is.</summary>
    private static string ToOriginForm(string rawTarget)
    {
        if (rawTarget.StartsWith('/') || rawTarget == "*") return rawTarget;
        var scheme = rawTarget.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return rawTarget; // authority-form (CONNECT host:port)
        var slash = rawTarget.IndexOfAny(['/', '?'], scheme + 3);
        if (slash < 0) return "/";
        return rawTarget[slash] == '?' ? "/" + rawTarget[slash..] : rawTarget[slash..];
    }
}
