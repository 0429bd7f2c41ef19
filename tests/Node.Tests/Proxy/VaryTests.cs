using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>Vary (RFC 9111 4.1) through a real node: one stored variant per selecting request-header combination.</summary>
public class VaryTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private static string Cc(string value) => Uri.EscapeDataString(value);

    private async Task<(HttpStatusCode Status, string CacheStatus, string? Variant)> GetAsync(Uri url, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var r = await env.Client.SendAsync(request);
        await r.Content.ReadAsByteArrayAsync();
        return (r.StatusCode, r.CacheStatus(), r.Headers.TryGetValues("X-Origin-Vary-Value", out var v) ? v.Single() : null);
    }

    [Fact] // 4.1: a stored response is used only for requests whose listed header values match
    public async Task Each_language_gets_its_own_stored_variant()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary=Accept-Language&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);

        var en1 = await GetAsync(url, ("Accept-Language", "en"));
        var de1 = await GetAsync(url, ("Accept-Language", "de"));
        var en2 = await GetAsync(url, ("Accept-Language", "en"));
        var de2 = await GetAsync(url, ("Accept-Language", "de"));
        var none = await GetAsync(url);

        Assert.Contains("fwd=uri-miss", en1.CacheStatus);
        Assert.Contains("fwd=vary-miss", de1.CacheStatus);
        Assert.Matches(@"; hit", en2.CacheStatus);
        Assert.Matches(@"; hit", de2.CacheStatus);
        Assert.Equal("Accept-Language=en", en2.Variant);
        Assert.Equal("Accept-Language=de", de2.Variant);
        // A request without the header matches only a response stored for a request without it.
        Assert.Contains("fwd=vary-miss", none.CacheStatus);
        Assert.Equal("Accept-Language=", none.Variant);
        Assert.Equal(3, env.Origin.RequestCount(path));
        Assert.Matches("; hit", (await GetAsync(url)).CacheStatus);
    }

    [Fact] // 4.1: values may be normalised: list spacing and field lines combined
    public async Task Equivalent_header_values_select_the_same_variant()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary=Accept-Encoding&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        await GetAsync(url, ("Accept-Encoding", "gzip, br"));
        var spaced = await GetAsync(url, ("Accept-Encoding", "gzip,   br"));
        var tight = await GetAsync(url, ("Accept-Encoding", "gzip,br"));
        Assert.Matches("; hit", spaced.CacheStatus);
        Assert.Matches("; hit", tight.CacheStatus);
        Assert.Equal(1, env.Origin.RequestCount(path));
        var other = await GetAsync(url, ("Accept-Encoding", "br, gzip")); // order matters: a different value
        Assert.Contains("fwd=vary-miss", other.CacheStatus);
    }

    [Fact] // 4.1: a response listing several headers (odd case and spacing) varies on all of them
    public async Task Several_varying_headers_with_odd_spacing_and_case()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary={Cc(" accept-language ,  X-Client-Kind,ACCEPT-LANGUAGE")}&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        await GetAsync(url, ("Accept-Language", "en"), ("X-Client-Kind", "a"));
        Assert.Matches("; hit", (await GetAsync(url, ("Accept-Language", "en"), ("X-Client-Kind", "a"))).CacheStatus);
        Assert.Contains("fwd=vary-miss", (await GetAsync(url, ("Accept-Language", "en"), ("X-Client-Kind", "b"))).CacheStatus);
        Assert.Contains("fwd=vary-miss", (await GetAsync(url, ("Accept-Language", "fr"), ("X-Client-Kind", "a"))).CacheStatus);
        Assert.Equal(3, env.Origin.RequestCount(path));
    }

    [Fact] // 4.1: Vary: * always fails to match, so it is never served from the cache
    public async Task Vary_star_is_never_served_from_the_cache()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary={Cc("*")}&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        var first = await GetAsync(url);
        var second = await GetAsync(url);
        Assert.Contains("detail=\"vary-star\"", first.CacheStatus);
        Assert.DoesNotContain("hit", second.CacheStatus);
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact] // 4.4: invalidating a URL removes every stored variant of it
    public async Task An_unsafe_request_removes_all_variants_of_the_url()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary=Accept-Language&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        await GetAsync(url, ("Accept-Language", "en"));
        await GetAsync(url, ("Accept-Language", "de"));
        Assert.Matches("; hit", (await GetAsync(url, ("Accept-Language", "de"))).CacheStatus);

        using (var post = await env.Client.PostAsync(url, new StringContent("x")))
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);

        Assert.Contains("fwd=uri-miss", (await GetAsync(url, ("Accept-Language", "en"))).CacheStatus);
        Assert.Contains("fwd=vary-miss", (await GetAsync(url, ("Accept-Language", "de"))).CacheStatus);
        Assert.Equal(4, env.Origin.RequestCount("GET", path));
    }

    [Fact] // single-flight per variant: a burst for two variants of a cold URL costs two origin requests
    public async Task Concurrent_requests_for_two_variants_reach_the_origin_once_per_variant()
    {
        var path = NodeAndOrigin.Unique($"/slow-body/200k?ms=10&delay=400&vary=Accept-Language&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => GetAsync(url, ("Accept-Language", i % 2 == 0 ? "en" : "de"))));
        Assert.All(results, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(results.Where((_, i) => i % 2 == 0), r => Assert.Equal("Accept-Language=en", r.Variant));
        Assert.All(results.Where((_, i) => i % 2 == 1), r => Assert.Equal("Accept-Language=de", r.Variant));
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact] // HEAD is answered from the stored GET of the request's variant
    public async Task Head_is_answered_from_the_matching_variant()
    {
        var path = NodeAndOrigin.Unique($"/bytes/3k?vary=Accept-Language&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        await GetAsync(url, ("Accept-Language", "en"));
        using var head = new HttpRequestMessage(HttpMethod.Head, url);
        head.Headers.TryAddWithoutValidation("Accept-Language", "en");
        using var r = await env.Client.SendAsync(head);
        Assert.Matches("; hit", r.CacheStatus());
        Assert.Equal(3072, r.Content.Headers.ContentLength);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact] // issue 15 L7: one client sending 300 one-off values must neither lock new variants out nor evict used ones
    public async Task A_flood_of_one_off_variants_does_not_exhaust_the_urls_variant_slots()
    {
        var path = NodeAndOrigin.Unique($"/bytes/1k?vary=Accept-Language&cc={Cc("max-age=600")}");
        var url = env.Origin.Url(path);
        await GetAsync(url, ("Accept-Language", "en"));
        Assert.Matches("; hit", (await GetAsync(url, ("Accept-Language", "en"))).CacheStatus);

        for (int i = 0; i < Contracts.Entries.VaryMarker.MaxVariants + 44; i++)
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(url, ("Accept-Language", $"x-junk-{i}"))).Status);

        // The variant others keep using survived the flood, and a new variant is still stored.
        Assert.Matches("; hit", (await GetAsync(url, ("Accept-Language", "en"))).CacheStatus);
        Assert.Contains("fwd=vary-miss", (await GetAsync(url, ("Accept-Language", "fr"))).CacheStatus);
        var fr = await GetAsync(url, ("Accept-Language", "fr"));
        Assert.Matches("; hit", fr.CacheStatus);
        Assert.Equal("Accept-Language=fr", fr.Variant);
        // A dropped junk variant is fetched again, never served from a slot it no longer has.
        var first = await GetAsync(url, ("Accept-Language", "x-junk-0"));
        Assert.DoesNotContain("hit", first.CacheStatus);
        Assert.Equal("Accept-Language=x-junk-0", first.Variant);
    }
}

/// <summary>Variants across a cluster: stored through one node, served by another; invalidated cluster-wide.</summary>
public class VaryClusterTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static async Task<(string CacheStatus, string? Variant)> GetAsync(HttpClient client, Uri url, string language)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation("Accept-Language", language);
        using var r = await client.SendAsync(request);
        await r.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        return (r.CacheStatus(), r.Headers.TryGetValues("X-Origin-Vary-Value", out var v) ? v.Single() : null);
    }

    [Fact]
    public async Task A_variant_stored_through_one_node_is_a_hit_on_the_other_and_a_post_anywhere_removes_all()
    {
        await using var cluster = await LocalCluster.StartAsync(2);
        using var a = cluster.Nodes[0].CreateClient();
        using var b = cluster.Nodes[1].CreateClient();
        var path = NodeAndOrigin.Unique("/bytes/2k?vary=Accept-Language&cc=" + Uri.EscapeDataString("max-age=600"));
        var url = _origin.Url(path);

        await GetAsync(a, url, "en");
        await GetAsync(b, url, "de");
        var enAtB = await GetAsync(b, url, "en");
        var deAtA = await GetAsync(a, url, "de");
        Assert.Matches("; hit", enAtB.CacheStatus);
        Assert.Equal("Accept-Language=en", enAtB.Variant);
        Assert.Matches("; hit", deAtA.CacheStatus);
        Assert.Equal("Accept-Language=de", deAtA.Variant);
        Assert.Equal(2, _origin.RequestCount(path));

        using (var post = await b.PostAsync(url, new StringContent("x")))
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var enAfter = await GetAsync(a, url, "en");
        var deAfter = await GetAsync(a, url, "de");
        Assert.DoesNotContain("hit", enAfter.CacheStatus);
        Assert.DoesNotContain("hit", deAfter.CacheStatus);
        Assert.Equal(4, _origin.RequestCount("GET", path));
    }

    [Fact] // hot copies of a variant (and of the URL's marker) serve repeat hits locally and go when the URL is invalidated
    public async Task Hot_copies_of_variants_are_used_and_dropped_on_invalidation()
    {
        await using var cluster = await LocalCluster.StartAsync(2, new Dictionary<string, string?> { ["Proxy:DebugHeaders"] = "true" });
        using var a = cluster.Nodes[0].CreateClient();
        using var b = cluster.Nodes[1].CreateClient();
        var path = NodeAndOrigin.Unique("/bytes/2k?vary=Accept-Language&cc=" + Uri.EscapeDataString("max-age=600"));
        var url = _origin.Url(path);

        string? servedBy = null;
        for (int i = 0; i < 4; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.TryAddWithoutValidation("Accept-Language", "en");
            using var r = await b.SendAsync(request);
            Assert.Equal("Accept-Language=en", r.Headers.GetValues("X-Origin-Vary-Value").Single());
            servedBy = r.Headers.TryGetValues("X-Cache-Owner", out var o) ? o.Single() : null;
        }
        Assert.Equal("hot-copy", servedBy); // the fourth request never left node b
        Assert.Equal("Accept-Language=de", (await GetAsync(b, url, "de")).Variant); // another variant is not the hot one

        using (var post = await a.PostAsync(url, new StringContent("x")))
            Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        await Task.Delay(300); // the owners' drop messages are one-way
        Assert.DoesNotContain("hit", (await GetAsync(b, url, "en")).CacheStatus);
        Assert.Equal(3, _origin.RequestCount("GET", path));
    }
}
