using System.Net;
using System.Net.Http.Headers;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>Range requests (RFC 9110 14) answered by a real node from a stored entry; the origin is asked once.</summary>
public class RangeTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private HttpClient Client => env.Client;

    /// <summary>Stores <paramref name="path"/> with a plain GET (a miss) and returns the full body.</summary>
    private async Task<byte[]> StoreAsync(string path)
    {
        using var miss = await Client.GetAsync(env.Origin.Url(path));
        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Contains("stored", miss.CacheStatus());
        return await miss.Content.ReadAsByteArrayAsync();
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? range, string? ifRange = null, HttpMethod? method = null)
    {
        var request = new HttpRequestMessage(method ?? HttpMethod.Get, env.Origin.Url(path));
        if (range is not null) Assert.True(request.Headers.TryAddWithoutValidation("Range", range));
        if (ifRange is not null) Assert.True(request.Headers.TryAddWithoutValidation("If-Range", ifRange));
        return await Client.SendAsync(request);
    }

    private static async Task AssertPartialAsync(HttpResponseMessage r, byte[] full, long first, long last)
    {
        Assert.Equal(HttpStatusCode.PartialContent, r.StatusCode);
        Assert.Contains("hit", r.CacheStatus());
        Assert.Equal($"bytes {first}-{last}/{full.Length}", r.Header("Content-Range"));
        Assert.Equal(last - first + 1, r.Content.Headers.ContentLength);
        var body = await r.Content.ReadAsByteArrayAsync();
        Assert.Equal(full.AsSpan((int)first, (int)(last - first + 1)).ToArray(), body);
    }

    [Fact]
    public async Task Single_suffix_and_open_ranges_are_served_from_the_cache()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var full = await StoreAsync(path);
        Assert.Equal(OriginContent.Expected(path, 1024), full);

        using (var r = await GetAsync(path, "bytes=0-99")) await AssertPartialAsync(r, full, 0, 99);
        using (var r = await GetAsync(path, "bytes=-100")) await AssertPartialAsync(r, full, 924, 1023);
        using (var r = await GetAsync(path, "bytes=1000-")) await AssertPartialAsync(r, full, 1000, 1023);
        using (var r = await GetAsync(path, "bytes=10-5000")) await AssertPartialAsync(r, full, 10, 1023);
        using (var r = await GetAsync(path, "bytes= 5-5 ")) await AssertPartialAsync(r, full, 5, 5);
        using (var r = await GetAsync(path, "bytes=0-")) await AssertPartialAsync(r, full, 0, 1023);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Ranges_crossing_chunk_boundaries_of_a_300k_object()
    {
        const int chunk = EntryStore.MaxChunkBytes;
        var path = NodeAndOrigin.Unique("/bytes/300k");
        var full = await StoreAsync(path);
        Assert.Equal(300 * 1024, full.Length);

        // Repeated so both the owner path and (from the third request on) the node's hot copy serve ranges.
        for (int round = 0; round < 2; round++)
        {
            using (var r = await GetAsync(path, $"bytes={chunk - 10}-{chunk + 9}")) await AssertPartialAsync(r, full, chunk - 10, chunk + 9);
            using (var r = await GetAsync(path, $"bytes={chunk - 1}-{3 * chunk}")) await AssertPartialAsync(r, full, chunk - 1, 3 * chunk);
            using (var r = await GetAsync(path, $"bytes={chunk}-{chunk}")) await AssertPartialAsync(r, full, chunk, chunk);
            using (var r = await GetAsync(path, "bytes=-70000")) await AssertPartialAsync(r, full, full.Length - 70000, full.Length - 1);
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Ranges_are_served_from_a_hot_copy()
    {
        const int chunk = EntryStore.MaxChunkBytes;
        var path = NodeAndOrigin.Unique("/bytes/300k");
        var full = await StoreAsync(path);
        // The second full GET on this node takes a hot copy; range requests then never touch the owner.
        using (var hit = await Client.GetAsync(env.Origin.Url(path))) Assert.Equal(full, await hit.Content.ReadAsByteArrayAsync());
        var hot = env.Node.Services.GetRequiredService<HotEntries>();
        // The copy is kept once the last byte has been flushed, so it may trail the client by a moment.
        var key = env.Origin.Url(path).ToString();
        for (int i = 0; i < 100 && !hot.TryGet(key, out _); i++) await Task.Delay(20);
        Assert.True(hot.TryGet(key, out _));

        using (var r = await GetAsync(path, $"bytes={chunk - 10}-{2 * chunk + 9}")) await AssertPartialAsync(r, full, chunk - 10, 2 * chunk + 9);
        using (var r = await GetAsync(path, "bytes=-1")) await AssertPartialAsync(r, full, full.Length - 1, full.Length - 1);
        using (var r = await GetAsync(path, "bytes=0-0,-1"))
        {
            var parts = await ReadMultipartAsync(r);
            Assert.Equal([full[0]], parts[0].Body);
            Assert.Equal([full[^1]], parts[1].Body);
            Assert.Equal($"bytes {full.Length - 1}-{full.Length - 1}/{full.Length}", parts[1].ContentRange);
        }
        using (var r = await GetAsync(path, $"bytes={full.Length}-")) Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, r.StatusCode);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Multiple_ranges_are_a_multipart_byteranges_response()
    {
        const int chunk = EntryStore.MaxChunkBytes;
        var path = NodeAndOrigin.Unique("/bytes/300k?ct=application%2Fx-test");
        var full = await StoreAsync(path);

        using var r = await GetAsync(path, $"bytes=0-9, {chunk - 5}-{chunk + 4},-20");
        Assert.Equal(HttpStatusCode.PartialContent, r.StatusCode);
        Assert.Null(r.Header("Content-Range"));
        var parts = await ReadMultipartAsync(r);
        Assert.Equal(3, parts.Count);
        (long First, long Last)[] expected = [(0, 9), (chunk - 5, chunk + 4), (full.Length - 20, full.Length - 1)];
        for (int i = 0; i < expected.Length; i++)
        {
            var (first, last) = expected[i];
            Assert.Equal("application/x-test", parts[i].ContentType);
            Assert.Equal($"bytes {first}-{last}/{full.Length}", parts[i].ContentRange);
            Assert.Equal(full.AsSpan((int)first, (int)(last - first + 1)).ToArray(), parts[i].Body);
        }

        // Overlapping ranges are coalesced: one range left is a plain single-part 206.
        using (var merged = await GetAsync(path, "bytes=0-99,50-149,150-199")) await AssertPartialAsync(merged, full, 0, 199);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Unsatisfiable_ranges_get_416_and_invalid_ones_the_full_response()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var full = await StoreAsync(path);

        using (var r = await GetAsync(path, "bytes=1024-"))
        {
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, r.StatusCode);
            Assert.Equal("bytes */1024", r.Header("Content-Range"));
            Assert.Empty(await r.Content.ReadAsByteArrayAsync());
        }
        foreach (var invalid in new[] { "bytes=5-1", "bytes=abc", "items=0-5", "bytes=" })
        {
            using var r = await GetAsync(path, invalid);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("hit", r.CacheStatus());
            Assert.Equal(full, await r.Content.ReadAsByteArrayAsync());
        }
        using (var plain = await GetAsync(path, null)) Assert.Equal("bytes", plain.Header("Accept-Ranges"));
        // Range handling is defined for GET only (RFC 9110 14.2): a HEAD gets the full response's headers.
        using (var head = await GetAsync(path, "bytes=0-9", method: HttpMethod.Head))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(1024, head.Content.Headers.ContentLength);
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task If_range_with_a_strong_etag()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?etag=v1");
        var full = await StoreAsync(path);

        using (var match = await GetAsync(path, "bytes=0-9", "\"v1\"")) await AssertPartialAsync(match, full, 0, 9);
        using (var other = await GetAsync(path, "bytes=0-9", "\"v2\""))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            Assert.Equal(full, await other.Content.ReadAsByteArrayAsync());
        }
        // A weak tag never matches, and If-Range failing wins over an unsatisfiable range.
        using (var weak = await GetAsync(path, "bytes=0-9", "W/\"v1\"")) Assert.Equal(HttpStatusCode.OK, weak.StatusCode);
        using (var notMatching = await GetAsync(path, "bytes=5000-", "\"v2\"")) Assert.Equal(HttpStatusCode.OK, notMatching.StatusCode);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task If_range_with_a_weak_stored_etag_never_matches()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?etag=" + Uri.EscapeDataString("W/\"v1\""));
        await StoreAsync(path);
        using var r = await GetAsync(path, "bytes=0-9", "\"v1\"");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task If_range_with_a_date_must_equal_a_strong_last_modified()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?lm=3600");
        string lastModified;
        byte[] full;
        using (var miss = await Client.GetAsync(env.Origin.Url(path)))
        {
            lastModified = miss.Header("Last-Modified")!;
            full = await miss.Content.ReadAsByteArrayAsync();
        }
        Assert.NotNull(lastModified);
        Assert.True(HttpDate.TryParse(lastModified, out var lm));

        using (var match = await GetAsync(path, "bytes=0-9", lastModified)) await AssertPartialAsync(match, full, 0, 9);
        using (var later = await GetAsync(path, "bytes=0-9", HttpDate.Format(lm.AddSeconds(1)))) Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    internal sealed record Part(string? ContentType, string? ContentRange, byte[] Body);

    internal static async Task<List<Part>> ReadMultipartAsync(HttpResponseMessage r)
    {
        var type = r.Content.Headers.ContentType;
        Assert.NotNull(type);
        Assert.Equal("multipart/byteranges", type.MediaType);
        var boundary = type.Parameters.Single(p => p.Name == "boundary").Value!.Trim('"');
        var bytes = await r.Content.ReadAsByteArrayAsync();
        Assert.Equal(bytes.Length, r.Content.Headers.ContentLength);
        return await ReadMultipartAsync(bytes, boundary);
    }

    internal static async Task<List<Part>> ReadMultipartAsync(byte[] body, string boundary)
    {
        var reader = new MultipartReader(boundary, new MemoryStream(body));
        var parts = new List<Part>();
        while (await reader.ReadNextSectionAsync() is { } section)
        {
            using var data = new MemoryStream();
            await section.Body.CopyToAsync(data);
            parts.Add(new Part(section.ContentType, section.Headers!.TryGetValue("Content-Range", out var cr) ? cr.ToString() : null, data.ToArray()));
        }
        return parts;
    }
}

/// <summary>RangeResponder on its own: a DefaultHttpContext and a chunk source that records what it was asked for.</summary>
public class RangeResponderTests
{
    private const int ChunkSize = 10;

    private sealed class Lifetime : IHttpRequestLifetimeFeature
    {
        public CancellationToken RequestAborted { get; set; }
        public bool Aborted { get; private set; }
        public void Abort() => Aborted = true;
    }

    private static byte[] Body(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + 3)).ToArray();

    private static EntryHead Head(long length, int status = 200, params string[] headers) => new()
    {
        CacheKey = "http://example.test/x",
        Status = status,
        ReasonPhrase = "OK",
        Headers = headers.Length > 0 ? headers : ["Content-Type", "text/plain", "ETag", "\"e1\"", "Content-MD5", "xyz"],
        RequestTimeUnixMs = 0,
        ResponseTimeUnixMs = 0,
        LifetimeMs = 60_000,
        InitialAgeMs = 0,
        BodyLength = length,
        ChunkCount = (int)((length + ChunkSize - 1) / ChunkSize),
        Generation = 1,
    };

    private static (DefaultHttpContext Ctx, MemoryStream Body, Lifetime Lifetime) Context(string? range, string method = "GET", string? ifRange = null)
    {
        var ctx = new DefaultHttpContext();
        ctx.Request.Method = method;
        if (range is not null) ctx.Request.Headers.Range = range;
        if (ifRange is not null) ctx.Request.Headers.IfRange = ifRange;
        var body = new MemoryStream();
        ctx.Response.Body = body;
        var lifetime = new Lifetime();
        ctx.Features.Set<IHttpRequestLifetimeFeature>(lifetime);
        return (ctx, body, lifetime);
    }

    /// <summary>Replays the head as the caller would (status, reason, stored headers), then lets the responder answer.</summary>
    private static async Task<(bool Written, List<int> Fetched)> RunAsync(DefaultHttpContext ctx, EntryHead head, byte[] body,
        RangePlan plan, Func<int, byte[]?>? tamper = null)
    {
        ctx.Response.StatusCode = head.Status;
        ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = head.ReasonPhrase;
        for (int i = 0; i + 1 < head.Headers.Length; i += 2) ctx.Response.Headers.Append(head.Headers[i], head.Headers[i + 1]);
        var fetched = new List<int>();
        var written = await RangeResponder.WriteAsync(ctx, plan, async index =>
        {
            fetched.Add(index);
            await Task.Yield();
            if (tamper is not null) return tamper(index);
            int start = index * ChunkSize;
            return start < body.Length ? body.AsSpan(start, Math.Min(ChunkSize, body.Length - start)).ToArray() : null;
        }, ChunkSize, CancellationToken.None);
        return (written, fetched);
    }

    [Fact]
    public async Task Single_range_fetches_only_the_overlapping_chunks()
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, output, lifetime) = Context("bytes=25-41");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var (written, fetched) = await RunAsync(ctx, head, data, plan);

        Assert.True(written);
        Assert.False(lifetime.Aborted);
        Assert.Equal([2, 3, 4], fetched);
        Assert.Equal(206, ctx.Response.StatusCode);
        Assert.Null(ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase);
        Assert.Equal("bytes 25-41/95", ctx.Response.Headers.ContentRange.ToString());
        Assert.Equal(17, ctx.Response.ContentLength);
        Assert.Equal("text/plain", ctx.Response.ContentType);
        Assert.False(ctx.Response.Headers.ContainsKey("Content-MD5"));
        Assert.Equal(data[25..42], output.ToArray());
    }

    [Fact]
    public async Task Last_short_chunk_and_suffix()
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, output, _) = Context("bytes=-7");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var (_, fetched) = await RunAsync(ctx, head, data, plan);
        Assert.Equal([8, 9], fetched);
        Assert.Equal("bytes 88-94/95", ctx.Response.Headers.ContentRange.ToString());
        Assert.Equal(data[88..], output.ToArray());
    }

    [Fact]
    public async Task Multipart_parts_share_chunks_and_content_length_is_exact()
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, output, _) = Context("bytes=1-2, 5-6, 50-69, -3");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var (written, fetched) = await RunAsync(ctx, head, data, plan);

        Assert.True(written);
        Assert.Equal([0, 5, 6, 9], fetched); // chunk 0 serves two parts with one fetch
        Assert.Equal(206, ctx.Response.StatusCode);
        Assert.False(ctx.Response.Headers.ContainsKey("Content-Range"));
        var contentType = Microsoft.Net.Http.Headers.MediaTypeHeaderValue.Parse(ctx.Response.ContentType);
        Assert.Equal("multipart/byteranges", contentType.MediaType.ToString());
        var boundary = contentType.Boundary.ToString();
        var bytes = output.ToArray();
        Assert.Equal(bytes.Length, ctx.Response.ContentLength);

        var parts = await RangeTests.ReadMultipartAsync(bytes, boundary);
        (int First, int Last)[] expected = [(1, 2), (5, 6), (50, 69), (92, 94)];
        Assert.Equal(expected.Length, parts.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal("text/plain", parts[i].ContentType);
            Assert.Equal($"bytes {expected[i].First}-{expected[i].Last}/95", parts[i].ContentRange);
            Assert.Equal(data[expected[i].First..(expected[i].Last + 1)], parts[i].Body);
        }
        Assert.EndsWith("\r\n--" + boundary + "--\r\n", System.Text.Encoding.Latin1.GetString(bytes));
    }

    [Fact]
    public async Task Unsatisfiable_is_416_without_body_or_fetches()
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, output, _) = Context("bytes=95-");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var (written, fetched) = await RunAsync(ctx, head, data, plan);
        Assert.True(written);
        Assert.Empty(fetched);
        Assert.Equal(416, ctx.Response.StatusCode);
        Assert.Equal("bytes */95", ctx.Response.Headers.ContentRange.ToString());
        Assert.Equal(0, ctx.Response.ContentLength);
        Assert.Empty(output.ToArray());
    }

    [Theory]
    [InlineData(null)]           // chunk gone (evicted mid-delivery)
    [InlineData(3)]              // a chunk of the wrong size: never serve wrong bytes
    public async Task A_missing_or_malformed_chunk_aborts_the_connection(int? badLength)
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, output, lifetime) = Context("bytes=5-45");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var (written, fetched) = await RunAsync(ctx, head, data, plan,
            index => index == 2 ? (badLength is int n ? new byte[n] : null) : data.AsSpan(index * ChunkSize, ChunkSize).ToArray());
        Assert.False(written);
        Assert.True(lifetime.Aborted);
        Assert.Equal([0, 1, 2, 3], fetched); // stops at the bad chunk (with one read ahead), never asks for chunk 4
        Assert.True(output.Length < 41);
    }

    [Fact]
    public async Task A_throwing_chunk_source_aborts_the_connection()
    {
        var data = Body(95);
        var head = Head(data.Length);
        var (ctx, _, lifetime) = Context("bytes=0-");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, head, out var plan));
        var written = await RangeResponder.WriteAsync(ctx, plan, _ => throw new TimeoutException("owner gone"), ChunkSize, CancellationToken.None);
        Assert.False(written);
        Assert.True(lifetime.Aborted);
    }

    [Theory]
    [InlineData("HEAD", "bytes=0-5", null, 200)]        // range handling is defined for GET only
    [InlineData("POST", "bytes=0-5", null, 200)]
    [InlineData("GET", "bytes=0-5", null, 203)]         // only a stored 200
    [InlineData("GET", null, null, 200)]
    [InlineData("GET", "bytes=5-0", null, 200)]         // invalid: ignored
    [InlineData("GET", "bytes=0-5", "\"e2\"", 200)]     // If-Range does not match
    [InlineData("GET", "bytes=0-5", "W/\"e1\"", 200)]
    public void Full_response_cases(string method, string? range, string? ifRange, int status)
    {
        var (ctx, _, _) = Context(range, method, ifRange);
        Assert.False(RangeResponder.TryPrepare(ctx.Request, Head(95, status), out _));
    }

    [Fact]
    public void Several_range_field_lines_are_ignored()
    {
        var (ctx, _, _) = Context(null);
        ctx.Request.Headers.Range = new Microsoft.Extensions.Primitives.StringValues(["bytes=0-1", "bytes=2-3"]);
        Assert.False(RangeResponder.TryPrepare(ctx.Request, Head(95), out _));
    }

    [Fact]
    public void If_range_matching_etag_prepares_a_plan()
    {
        var (ctx, _, _) = Context("bytes=0-5", ifRange: "\"e1\"");
        Assert.True(RangeResponder.TryPrepare(ctx.Request, Head(95), out var plan));
        Assert.Equal([new ByteRange(0, 5)], plan.Ranges);
        Assert.Equal(95, plan.Length);
        Assert.Equal("text/plain", plan.ContentType);
    }
}
