using System.IO.Compression;
using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// gzip and brotli to clients through a real node (docs/compression.md): the compressed form is made once from the
/// stored identity response, stored, and served to every client that accepts it; identity clients get identity.
/// Clients here never decompress on their own (AutomaticDecompression off): the test decodes and compares.
/// </summary>
public class CompressionTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private const string Fresh = "cc=max-age%3D600";

    private sealed record Reply(HttpStatusCode Status, string CacheStatus, string? Encoding, string? Vary, string? ETag, long? Length,
        string? ContentRange, byte[] Body);

    private async Task<Reply> GetAsync(Uri url, string? acceptEncoding, HttpMethod? method = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, url);
        if (acceptEncoding is not null) request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var r = await env.Client.SendAsync(request);
        var body = await r.Content.ReadAsByteArrayAsync();
        return new Reply(r.StatusCode, r.CacheStatus(), r.Content.Headers.ContentEncoding.SingleOrDefault(),
            r.Headers.Vary.Count > 0 ? string.Join(", ", r.Headers.Vary) : null, r.Headers.ETag?.ToString(), r.Content.Headers.ContentLength,
            r.Content.Headers.ContentRange?.ToString(), body);
    }

    private static byte[] Decode(string coding, byte[] body)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = coding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    [Fact]
    public async Task A_gzip_form_is_made_once_stored_and_served_to_every_client_accepting_gzip()
    {
        var path = NodeAndOrigin.Unique($"/text/40k?{Fresh}&etag=v1");
        var url = env.Origin.Url(path);
        var expected = TextContent.Expected(path);

        var miss = await GetAsync(url, "gzip");
        Assert.Contains("fwd=uri-miss", miss.CacheStatus);
        Assert.Null(miss.Encoding); // the first answer is the origin's own (identity), stored as such
        Assert.Contains("Accept-Encoding", miss.Vary);
        Assert.Equal(expected, miss.Body);

        var made = await GetAsync(url, "gzip");
        Assert.Contains("; hit", made.CacheStatus);
        Assert.Contains("detail=\"gzip-stored\"", made.CacheStatus);
        Assert.Equal("gzip", made.Encoding);
        Assert.Equal(made.Body.Length, made.Length);
        Assert.True(made.Body.Length < expected.Length / 2, $"{made.Body.Length} bytes of gzip for {expected.Length} of text");
        Assert.Equal(expected, Decode("gzip", made.Body));
        Assert.Equal("W/\"v1\"", made.ETag);
        Assert.Contains("Accept-Encoding", made.Vary);

        // Another client (other Accept-Encoding spelling) gets the stored form: same bytes, not made again.
        var stored = await GetAsync(url, "deflate, gzip;q=0.8");
        Assert.Contains("; hit", stored.CacheStatus);
        Assert.Contains("detail=\"gzip\"", stored.CacheStatus);
        Assert.Equal(made.Body, stored.Body);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Identity_clients_get_identity_with_vary()
    {
        var path = NodeAndOrigin.Unique($"/text/8k?{Fresh}&etag=v2");
        var url = env.Origin.Url(path);
        var expected = TextContent.Expected(path);
        await GetAsync(url, null);
        await GetAsync(url, "br"); // a br form now exists

        foreach (var accept in new string?[] { null, "identity", "gzip;q=0, br;q=0", "compress", "*;q=0" })
        {
            var r = await GetAsync(url, accept);
            Assert.Contains("; hit", r.CacheStatus);
            Assert.Null(r.Encoding);
            Assert.Equal(expected, r.Body);
            Assert.Equal("\"v2\"", r.ETag); // the origin's strong validator, untouched
            Assert.Contains("Accept-Encoding", r.Vary);
        }
    }

    [Theory]
    [InlineData("gzip, br", "br")] // equal q: brotli (smaller)
    [InlineData("br;q=0.5, gzip", "gzip")]
    [InlineData("gzip, deflate, br, zstd", "br")] // what browsers send
    [InlineData("*", "br")]
    [InlineData("x-gzip", "gzip")]
    public async Task The_coding_follows_the_q_values(string acceptEncoding, string coding)
    {
        var path = NodeAndOrigin.Unique($"/text/16k?{Fresh}&ct=application%2Fjson");
        var url = env.Origin.Url(path);
        await GetAsync(url, acceptEncoding);
        var r = await GetAsync(url, acceptEncoding);
        Assert.Equal(coding, r.Encoding);
        Assert.Equal(TextContent.Expected(path), Decode(coding, r.Body));
    }

    [Fact]
    public async Task Range_is_answered_from_the_encoded_bytes_and_If_Range_gets_the_whole_form()
    {
        var path = NodeAndOrigin.Unique($"/text/200k?{Fresh}&etag=v3");
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip");
        var whole = await GetAsync(url, "gzip");
        Assert.Equal("gzip", whole.Encoding);

        var part = await GetAsync(url, "gzip", null, ("Range", "bytes=100-4099"));
        Assert.Equal(HttpStatusCode.PartialContent, part.Status);
        Assert.Equal("gzip", part.Encoding);
        Assert.Equal($"bytes 100-4099/{whole.Body.Length}", part.ContentRange);
        Assert.Equal(whole.Body.AsSpan(100, 4000).ToArray(), part.Body);

        // The identity representation's ranges are of the identity bytes.
        var identityPart = await GetAsync(url, null, null, ("Range", "bytes=100-199"));
        Assert.Equal(HttpStatusCode.PartialContent, identityPart.Status);
        Assert.Null(identityPart.Encoding);
        Assert.Equal(TextContent.Expected(path).AsSpan(100, 100).ToArray(), identityPart.Body);

        // If-Range needs a strong validator: the form's is weak, so the whole form comes back.
        var guarded = await GetAsync(url, "gzip", null, ("Range", "bytes=100-199"), ("If-Range", "W/\"v3\""));
        Assert.Equal(HttpStatusCode.OK, guarded.Status);
        Assert.Equal(whole.Body, guarded.Body);
    }

    [Fact]
    public async Task HEAD_says_what_GET_would_send()
    {
        var path = NodeAndOrigin.Unique($"/text/32k?{Fresh}");
        var url = env.Origin.Url(path);
        await GetAsync(url, "br");
        var get = await GetAsync(url, "br");
        var head = await GetAsync(url, "br", HttpMethod.Head);
        Assert.Equal(HttpStatusCode.OK, head.Status);
        Assert.Equal("br", head.Encoding);
        Assert.Equal(get.Body.Length, head.Length);
        Assert.Empty(head.Body);
        Assert.Contains("Accept-Encoding", head.Vary);
        var identityHead = await GetAsync(url, null, HttpMethod.Head);
        Assert.Null(identityHead.Encoding);
        Assert.Equal(32 * 1024, identityHead.Length);
    }

    [Fact]
    public async Task A_conditional_request_for_the_form_gets_304_with_its_weak_validator()
    {
        var path = NodeAndOrigin.Unique($"/text/16k?{Fresh}&etag=v4&lm=3600");
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip");
        var form = await GetAsync(url, "gzip");
        Assert.Equal("W/\"v4\"", form.ETag);

        var revalidated = await GetAsync(url, "gzip", null, ("If-None-Match", form.ETag!));
        Assert.Equal(HttpStatusCode.NotModified, revalidated.Status);
        Assert.Equal("W/\"v4\"", revalidated.ETag);
        Assert.Contains("Accept-Encoding", revalidated.Vary);

        var identity = await GetAsync(url, null, null, ("If-None-Match", "\"v4\""));
        Assert.Equal(HttpStatusCode.NotModified, identity.Status);
        Assert.Equal("\"v4\"", identity.ETag);
        Assert.Contains("Accept-Encoding", identity.Vary);

        var changed = await GetAsync(url, "gzip", null, ("If-None-Match", "W/\"v0\""));
        Assert.Equal(HttpStatusCode.OK, changed.Status);
        Assert.Equal("gzip", changed.Encoding);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Theory]
    [InlineData("/bytes/20k?ct=image%2Fpng")] // not a compressible type
    [InlineData("/text/600")] // below Cache:Compression:MinSize
    [InlineData("/text/20k?cc=max-age%3D600%2C%20no-transform")] // the origin forbids transformations (RFC 9110 7.7)
    public async Task Other_types_small_bodies_and_no_transform_are_left_alone(string target)
    {
        var path = NodeAndOrigin.Unique(target);
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip, br");
        var r = await GetAsync(url, "gzip, br");
        Assert.Contains("; hit", r.CacheStatus);
        Assert.Null(r.Encoding);
        Assert.DoesNotContain("Accept-Encoding", r.Vary ?? "");
        Assert.DoesNotContain("detail", r.CacheStatus);
    }

    [Fact]
    public async Task A_body_the_origin_encoded_itself_is_passed_as_it_is()
    {
        var body = new string('x', 4000);
        var path = env.Origin.Script("pre-encoded-" + Guid.NewGuid().ToString("N")[..8], new ScriptedResponse
        {
            Headers = [new("Content-Type", "text/html"), new("Content-Encoding", "gzip"), new("Cache-Control", "max-age=600")],
            Body = body,
        });
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip, br");
        var r = await GetAsync(url, "br");
        Assert.Contains("; hit", r.CacheStatus);
        Assert.Equal("gzip", r.Encoding); // the origin's coding and bytes, untouched
        Assert.Equal(System.Text.Encoding.ASCII.GetBytes(body), r.Body);
    }

    [Fact]
    public async Task A_body_that_does_not_shrink_is_served_identity_and_not_compressed_again()
    {
        var path = NodeAndOrigin.Unique($"/bytes/20k?ct=text%2Fplain&{Fresh}"); // random bytes labelled as text
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip");
        for (int i = 0; i < 3; i++)
        {
            var r = await GetAsync(url, "gzip");
            Assert.Contains("; hit", r.CacheStatus);
            Assert.Null(r.Encoding);
            Assert.Equal(OriginContent.Expected(path), r.Body);
            Assert.Contains("Accept-Encoding", r.Vary);
        }
    }

    [Fact]
    public async Task A_URL_that_varies_gets_a_form_per_variant_and_both_names_in_Vary()
    {
        var path = NodeAndOrigin.Unique($"/text/12k?{Fresh}&vary=Accept-Language");
        var url = env.Origin.Url(path);
        foreach (var lang in new[] { "en", "de" })
        {
            await GetAsync(url, "gzip", null, ("Accept-Language", lang));
            var r = await GetAsync(url, "gzip", null, ("Accept-Language", lang));
            Assert.Equal("gzip", r.Encoding);
            Assert.Contains("Accept-Language", r.Vary);
            Assert.Contains("Accept-Encoding", r.Vary);
            Assert.Equal(TextContent.Expected(path), Decode("gzip", r.Body));
        }
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task After_an_invalidation_the_new_body_gets_a_new_form()
    {
        var path = NodeAndOrigin.Unique($"/text/12k?{Fresh}");
        var url = env.Origin.Url(path);
        await GetAsync(url, "gzip");
        Assert.Contains("gzip-stored", (await GetAsync(url, "gzip")).CacheStatus);
        using (var post = await env.Client.PostAsync(url, new StringContent("x"))) Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Contains("fwd=uri-miss", (await GetAsync(url, "gzip")).CacheStatus);
        var again = await GetAsync(url, "gzip");
        Assert.Contains("gzip-stored", again.CacheStatus); // made anew from the new identity body, not the old form
        Assert.Equal(TextContent.Expected(path), Decode("gzip", again.Body));
    }

    [Fact]
    public async Task Curl_compressed_gets_the_origin_bytes_and_a_stored_form_the_second_time()
    {
        var path = NodeAndOrigin.Unique($"/text/64k?{Fresh}&ct=text%2Fcss");
        var url = env.Origin.Url(path);
        var expected = TextContent.Expected(path);
        var dir = Directory.CreateTempSubdirectory("compress-curl");
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var file = Path.Combine(dir.FullName, $"body{i}");
                var head = await Curl.RunAsync("-s", "-g", "--compressed", "-D", "-", "-o", file, "-x", env.Node.ProxyUri.ToString(), url.ToString());
                Assert.Equal(expected, await File.ReadAllBytesAsync(file)); // curl decoded it: the origin's bytes
                if (i > 0) Assert.Matches("(?im)^content-encoding: br", head); // curl accepts br, gzip, …: br wins
                if (i == 2) Assert.Contains("detail=\"br\"", head);
            }
            Assert.Equal(1, env.Origin.RequestCount(path));
        }
        finally { dir.Delete(recursive: true); }
    }
}
