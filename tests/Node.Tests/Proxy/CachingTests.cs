using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>Caching through a real node, driven by HttpClient configured with the node as its proxy.</summary>
public class CachingTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private HttpClient Client => env.Client;

    [Fact]
    public async Task Second_request_is_a_hit_with_age_and_cache_status()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?cc=max-age%3D600");
        var url = env.Origin.Url(path);

        using var miss = await Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Contains("fwd=uri-miss", miss.CacheStatus());
        Assert.Contains("stored", miss.CacheStatus());
        var missBody = await miss.Content.ReadAsByteArrayAsync();

        using var hit = await Client.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Matches(@"^CacheCluster; hit; ttl=\d+$", hit.CacheStatus());
        Assert.NotNull(hit.Headers.Age);
        Assert.Contains("test-node", hit.Header("Via"));
        Assert.Equal(missBody, await hit.Content.ReadAsByteArrayAsync());
        Assert.Equal(OriginContent.Expected(path, 1024), missBody);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Head_is_answered_from_a_stored_get()
    {
        var path = NodeAndOrigin.Unique("/bytes/2k");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        using var head = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, url));
        Assert.Contains("hit", head.CacheStatus());
        Assert.Equal(2048, head.Content.Headers.ContentLength);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Theory]
    [InlineData("no-store")]
    [InlineData("private, max-age=600")]
    [InlineData("no-store, max-age=600")]
    public async Task Responses_that_forbid_storing_are_fetched_every_time(string cacheControl)
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?cc=" + Uri.EscapeDataString(cacheControl));
        var url = env.Origin.Url(path);
        for (int i = 0; i < 2; i++)
        {
            using var r = await Client.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.DoesNotContain("hit", r.CacheStatus());
            Assert.DoesNotContain("stored", r.CacheStatus());
        }
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Expires_gives_freshness_and_request_no_cache_goes_to_the_origin()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?cc=none&expires=600");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        using (var hit = await Client.GetAsync(url)) Assert.Contains("hit", hit.CacheStatus());

        using var req = new HttpRequestMessage(HttpMethod.Get, url);
        req.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { NoCache = true };
        using var forced = await Client.SendAsync(req);
        Assert.Contains("fwd=request", forced.CacheStatus());
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Only_if_cached_gives_504_when_not_cached()
    {
        var url = env.Origin.Url(NodeAndOrigin.Unique("/bytes/1k"));
        using var req = new HttpRequestMessage(HttpMethod.Get, url);
        req.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { OnlyIfCached = true };
        using var r = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
        Assert.Equal(0, env.Origin.RequestCount(url.PathAndQuery));
    }

    [Theory]
    [InlineData(1L << 20)]
    [InlineData(50L << 20)]
    public async Task Large_bodies_are_byte_identical_on_miss_and_hit(long size)
    {
        var path = NodeAndOrigin.Unique($"/bytes/{size}");
        var url = env.Origin.Url(path);
        var expected = OriginContent.ExpectedSha256(path, size);
        for (int i = 0; i < 2; i++)
        {
            using var r = await Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains(i == 0 ? "fwd=uri-miss" : "hit", r.CacheStatus());
            await using var body = await r.Content.ReadAsStreamAsync();
            var (length, sha) = await OriginContent.Sha256Async(body);
            Assert.Equal(size, length);
            Assert.Equal(expected, sha);
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Chunked_origin_responses_are_stored_and_served_with_a_length()
    {
        var path = NodeAndOrigin.Unique("/bytes/300k?chunked=1");
        var url = env.Origin.Url(path);
        using (var miss = await Client.GetAsync(url))
            Assert.Equal(OriginContent.Expected(path, 300 * 1024), await miss.Content.ReadAsByteArrayAsync());
        using var hit = await Client.GetAsync(url);
        Assert.Contains("hit", hit.CacheStatus());
        Assert.Equal(300 * 1024, hit.Content.Headers.ContentLength);
        Assert.Equal(OriginContent.Expected(path, 300 * 1024), await hit.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_client_abort_mid_body_leaves_no_entry()
    {
        var path = NodeAndOrigin.Unique("/slow-body/1m?ms=20");
        var abortedBefore = env.Origin.AbortedResponses;
        var url = env.Origin.Url(path);
        using (var cts = new CancellationTokenSource())
        {
            using var aborting = Clients.ViaProxy(env.Node.ProxyUri, drain: false);
            using var r = await aborting.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            await using var body = await r.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new byte[64 * 1024];
            var read = await body.ReadAtLeastAsync(buffer, 32 * 1024, throwOnEndOfStream: false, cts.Token);
            Assert.True(read > 0);
            cts.Cancel(); // the client goes away after the first 32 KiB
        }
        // The node notices the abort and stops reading from the origin (the origin sees its response cut).
        for (int i = 0; i < 100 && env.Origin.AbortedResponses == abortedBefore; i++) await Task.Delay(100);
        Assert.True(env.Origin.AbortedResponses > abortedBefore, "the node kept reading the origin after its client left");
        using var again = await Client.GetAsync(url);
        Assert.DoesNotContain("hit", again.CacheStatus());
        Assert.Equal(OriginContent.Expected(path, 1 << 20), await again.Content.ReadAsByteArrayAsync());
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task An_origin_failure_mid_body_is_not_stored_and_the_client_sees_a_truncated_transfer()
    {
        var path = NodeAndOrigin.Unique("/abort/1m?after=100000");
        var url = env.Origin.Url(path);
        await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
        {
            using var r = await Client.GetAsync(url);
            await r.Content.ReadAsByteArrayAsync();
        });
        await Assert.ThrowsAnyAsync<HttpRequestException>(async () =>
        {
            using var r = await Client.GetAsync(url);
            await r.Content.ReadAsByteArrayAsync();
        });
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Reverse_proxy_mode_serves_configured_sites_and_caches_them()
    {
        using var client = new HttpClient { BaseAddress = env.Node.ProxyUri };
        var path = NodeAndOrigin.Unique("/bytes/4k");
        for (int i = 0; i < 2; i++)
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, path);
            req.Headers.Host = "www.example.test";
            using var r = await client.SendAsync(req);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains(i == 0 ? "fwd=uri-miss" : "hit", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path, 4096), await r.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
        Assert.Equal("www.example.test", env.Origin.RequestsFor(path).Single().Header("Host"));
    }

    [Fact]
    public async Task Origin_form_for_an_unknown_site_is_a_clear_400()
    {
        using var client = new HttpClient { BaseAddress = env.Node.ProxyUri };
        using var r = await client.GetAsync("/whatever");
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Contains("Proxy:Sites", await r.Content.ReadAsStringAsync());
    }
}
