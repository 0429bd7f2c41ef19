using System.Net;
using System.Net.Http.Headers;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>Conditional requests, revalidation and invalidation through a real node (RFC 9111 4.3, 4.4).</summary>
public class ValidationTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private HttpClient Client => env.Client;

    [Fact] // RFC 9111 4.3.2: a client's If-None-Match matching the stored ETag is answered 304 from the cache
    public async Task Client_if_none_match_is_answered_with_304_from_the_cache()
    {
        var path = NodeAndOrigin.Unique("/bytes/2k?etag=v1");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        using var req = new HttpRequestMessage(HttpMethod.Get, url);
        req.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"v1\""));
        using var r = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
        Assert.Equal("\"v1\"", r.Headers.ETag?.ToString());
        Assert.Contains("hit", r.CacheStatus());
        Assert.Empty(await r.Content.ReadAsByteArrayAsync());

        using var other = new HttpRequestMessage(HttpMethod.Get, url);
        other.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"v0\""));
        using var full = await Client.SendAsync(other);
        Assert.Equal(HttpStatusCode.OK, full.StatusCode);
        Assert.Equal(2048, (await full.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact] // RFC 9111 4.3.2: If-Modified-Since is compared with the stored Last-Modified
    public async Task Client_if_modified_since_is_answered_with_304_from_the_cache()
    {
        var path = NodeAndOrigin.Unique("/bytes/2k?lm=3600");
        var url = env.Origin.Url(path);
        using (var first = await Client.GetAsync(url))
        {
            var lastModified = first.Content.Headers.LastModified!.Value;
            using var req = new HttpRequestMessage(HttpMethod.Get, url);
            req.Headers.IfModifiedSince = lastModified.AddSeconds(10);
            using var r = await Client.SendAsync(req);
            Assert.Equal(HttpStatusCode.NotModified, r.StatusCode);
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact] // RFC 9111 4.3.1, 4.3.3, 4.3.4: a stale entry is revalidated; a 304 refreshes it and the body is served from the cache
    public async Task A_stale_entry_with_an_etag_is_revalidated_and_refreshed_by_a_304()
    {
        // max-age=2: Date has one-second resolution, so a refreshed entry keeps at least a second of freshness.
        var path = NodeAndOrigin.Unique("/bytes/100k?etag=tag7&cc=max-age%3D2");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        await Task.Delay(2600);

        using (var r = await Client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("fwd=stale; fwd-status=304", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path, 100 * 1024), await r.Content.ReadAsByteArrayAsync());
        }
        var revalidation = env.Origin.RequestsFor(path)[1];
        Assert.Equal("\"tag7\"", revalidation.Header("If-None-Match"));
        using (var again = await Client.GetAsync(url))
            Assert.Contains("hit", again.CacheStatus()); // fresh again after the 304
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact] // RFC 9111 4.3.3: a stale entry without validators is simply refetched
    public async Task A_stale_entry_without_validators_is_refetched()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?cc=max-age%3D1");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        await Task.Delay(1600);
        using var r = await Client.GetAsync(url);
        Assert.Contains("fwd=stale; fwd-status=200; stored", r.CacheStatus());
        Assert.False(env.Origin.RequestsFor(path)[1].HasHeader("If-None-Match"));
    }

    [Theory] // RFC 9111 4.4: a successful unsafe request invalidates the target URI
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    public async Task A_successful_unsafe_request_invalidates_the_url(string method)
    {
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var url = env.Origin.Url(path);
        (await Client.GetAsync(url)).Dispose();
        using (var hit = await Client.GetAsync(url)) Assert.Contains("hit", hit.CacheStatus());
        using (var unsafeReq = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url) { Content = new StringContent("x") }))
            Assert.True(unsafeReq.IsSuccessStatusCode);
        using var after = await Client.GetAsync(url);
        Assert.DoesNotContain("hit", after.CacheStatus());
        Assert.Equal(2, env.Origin.RequestCount("GET", path));
    }

    [Fact] // RFC 9111 4.4: ... and the same-origin URL in Location
    public async Task An_unsafe_request_invalidates_a_same_origin_location()
    {
        var stored = NodeAndOrigin.Unique("/bytes/1k");
        var url = env.Origin.Url(stored);
        (await Client.GetAsync(url)).Dispose();
        var post = env.Origin.Url(NodeAndOrigin.Unique("/location/new") + "&loc=" + Uri.EscapeDataString(stored));
        using (var created = await Client.PostAsync(post, new StringContent("x")))
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var after = await Client.GetAsync(url);
        Assert.DoesNotContain("hit", after.CacheStatus());
    }
}

/// <summary>RFC 5861 stale-if-error through a real node whose origin goes away.</summary>
public class StaleIfErrorTests
{
    [Fact] // RFC 5861 4: stale-if-error lets a stale entry stand in for an unreachable origin
    public async Task A_stale_entry_with_stale_if_error_is_served_when_the_origin_is_down()
    {
        var accessLog = Path.Combine(TempDir.Create("sie-accesslog"), "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["AccessLog:Path"] = accessLog });
        using var client = node.CreateClient();
        var origin = await OriginServer.StartAsync();
        var path = NodeAndOrigin.Unique("/bytes/3k?cc=" + Uri.EscapeDataString("max-age=1, stale-if-error=60"));
        var url = origin.Url(path);
        (await client.GetAsync(url)).Dispose();
        var noSie = NodeAndOrigin.Unique("/bytes/3k?cc=max-age%3D1");
        (await client.GetAsync(origin.Url(noSie))).Dispose();
        var noSieUrl = origin.Url(noSie);
        await origin.DisposeAsync(); // the origin is gone: connections are refused
        await Task.Delay(1600);

        using (var r = await client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("fwd=stale", r.CacheStatus());
            Assert.Contains("stale-if-error", r.CacheStatus());
            Assert.Equal(OriginContent.Expected(path, 3072), await r.Content.ReadAsByteArrayAsync());
        }
        using (var r = await client.GetAsync(noSieUrl))
            Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode); // no stale-if-error: the error shows

        // The access log says it as Squid does: the stale copy stood in for a failed refresh; the origin's failure is a miss.
        string[] lines = [];
        for (int i = 0; i < 100 && lines.Length < 4; i++)
        {
            await Task.Delay(50);
            using var f = new FileStream(accessLog, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
            lines = new StreamReader(f).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        Assert.Equal(4, lines.Length);
        Assert.Equal("TCP_REFRESH_FAIL_OLD/200", lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);
        Assert.Equal("TCP_MISS/502", lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]);
    }
}

/// <summary>RFC 5861 stale-while-revalidate through a real node.</summary>
public class StaleWhileRevalidateTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    [Fact] // RFC 5861 3: the stale entry is served at once and refreshed in the background, once
    public async Task A_stale_entry_is_served_while_it_is_revalidated_in_the_background()
    {
        var path = NodeAndOrigin.Unique("/bytes/2k?etag=s1&cc=" + Uri.EscapeDataString("max-age=3, stale-while-revalidate=60"));
        var url = env.Origin.Url(path);
        (await env.Client.GetAsync(url)).Dispose();
        await Task.Delay(3600);

        using (var first = await env.Client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Contains("stale-while-revalidate", first.CacheStatus()); // served stale at once
            Assert.Equal(OriginContent.Expected(path, 2048), await first.Content.ReadAsByteArrayAsync());
        }
        // Requests meanwhile get the stale copy or, once the background 304 is in, a fresh hit; none goes to the origin.
        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
        {
            using var r = await env.Client.GetAsync(url);
            return (r.StatusCode, Status: r.CacheStatus(), Body: await r.Content.ReadAsByteArrayAsync());
        }));
        Assert.All(results, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("hit", r.Status);
            Assert.Equal(OriginContent.Expected(path, 2048), r.Body);
        });

        // One background revalidation (If-None-Match), answered 304: the entry is fresh again.
        for (int i = 0; i < 50 && env.Origin.RequestCount(path) < 2; i++) await Task.Delay(100);
        await Task.Delay(200);
        Assert.Equal(2, env.Origin.RequestCount(path));
        Assert.Equal("\"s1\"", env.Origin.RequestsFor(path)[1].Header("If-None-Match"));
        using var fresh = await env.Client.GetAsync(url);
        Assert.Matches(@"^CacheCluster; hit; ttl=\d+$", fresh.CacheStatus());
    }
}

public class SetCookieThroughNodeTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    [Fact]
    public async Task Responses_that_set_cookies_are_not_shared_and_cookies_are_never_replayed()
    {
        var personal = NodeAndOrigin.Unique("/bytes/1k?setcookie=1");
        for (int i = 0; i < 2; i++)
        {
            using var r = await env.Client.GetAsync(env.Origin.Url(personal));
            Assert.True(r.Headers.Contains("Set-Cookie"));
            Assert.Contains("detail=\"set-cookie\"", r.CacheStatus());
        }
        Assert.Equal(2, env.Origin.RequestCount(personal));

        var shared = NodeAndOrigin.Unique("/bytes/1k?setcookie=1&cc=" + Uri.EscapeDataString("public, max-age=600"));
        using (var first = await env.Client.GetAsync(env.Origin.Url(shared)))
            Assert.True(first.Headers.Contains("Set-Cookie")); // the client that caused the fetch gets its cookie
        using var hit = await env.Client.GetAsync(env.Origin.Url(shared));
        Assert.Contains("hit", hit.CacheStatus());
        Assert.False(hit.Headers.Contains("Set-Cookie")); // nobody else does
    }
}
