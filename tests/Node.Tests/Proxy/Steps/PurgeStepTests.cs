using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy.Steps;

/// <summary>Two real nodes and an origin shared by the PURGE tests (each test uses its own URLs).</summary>
public sealed class PurgeCluster : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        Cluster = await LocalCluster.StartAsync(2, new Dictionary<string, string?>
        {
            ["Proxy:Sites:www.purge.test"] = Origin.HttpBase.ToString(), // reverse-proxy (accelerator) form
        });
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Origin.DisposeAsync();
    }

    public TestNode Node(int i) => Cluster.Nodes[i];

    /// <summary>A GET through node <paramref name="i"/>; returns its Cache-Status.</summary>
    public async Task<string> GetAsync(int i, Uri url, params (string Name, string Value)[] headers)
    {
        using var client = Node(i).CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        foreach (var (n, v) in headers) request.Headers.TryAddWithoutValidation(n, v);
        using var r = await client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
        await r.Content.ReadAsByteArrayAsync();
        return r.CacheStatus();
    }
}

/// <summary>
/// HTTP PURGE on the proxy port, sent with curl as content systems do: the URL and its variants go cluster-wide,
/// a prefix and surrogate keys by header, 404 when nothing was cached, never forwarded to the origin.
/// </summary>
public class PurgeStepTests(PurgeCluster env) : IClassFixture<PurgeCluster>
{
    private static string Unique(string path) => NodeAndOrigin.Unique(path);

    [Fact]
    public async Task A_URL_cached_through_one_node_is_purged_through_the_other()
    {
        var path = Unique("/bytes/2k");
        var url = env.Origin.Url(path);
        Assert.Contains("fwd=uri-miss", await env.GetAsync(0, url));
        Assert.Contains("hit", await env.GetAsync(1, url));

        var purge = await PurgeCurl.ViaProxyAsync(env.Node(1), url);
        Assert.Equal(200, purge.Status);
        Assert.Equal("1", purge.Header("X-Purged"));
        Assert.Contains("purged 1 object(s)", purge.Body);
        Assert.Contains("no-store", purge.Header("Cache-Control"));

        Assert.Contains("fwd=uri-miss", await env.GetAsync(0, url));
        Assert.Equal(2, env.Origin.RequestCount(path));
        Assert.Equal(0, env.Origin.RequestCount("PURGE", path)); // never forwarded
    }

    [Fact]
    public async Task A_URL_that_is_not_cached_answers_404_and_reaches_no_origin()
    {
        var path = Unique("/bytes/1k");
        var purge = await PurgeCurl.ViaProxyAsync(env.Node(0), env.Origin.Url(path));
        Assert.Equal(404, purge.Status);
        Assert.Equal("0", purge.Header("X-Purged"));
        Assert.Contains("not cached", purge.Body);
        Assert.Equal(0, env.Origin.RequestCount(path));
        Assert.Equal(0, env.Origin.RequestCount("PURGE", path));
    }

    [Fact]
    public async Task Every_variant_of_a_varying_URL_goes()
    {
        var path = Unique($"/bytes/1k?vary=Accept-Language&cc={Uri.EscapeDataString("max-age=600")}");
        var url = env.Origin.Url(path);
        foreach (var lang in new[] { "en", "de" }) await env.GetAsync(0, url, ("Accept-Language", lang));
        foreach (var lang in new[] { "en", "de" }) Assert.Contains("hit", await env.GetAsync(1, url, ("Accept-Language", lang)));

        var purge = await PurgeCurl.ViaProxyAsync(env.Node(0), url);
        Assert.Equal(200, purge.Status);
        Assert.True(long.Parse(purge.Header("X-Purged")!) >= 2, $"X-Purged: {purge.Header("X-Purged")}");

        foreach (var lang in new[] { "en", "de" }) Assert.DoesNotContain("hit", await env.GetAsync(1, url, ("Accept-Language", lang)));
        Assert.Equal(4, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task X_Purge_Method_prefix_purges_every_URL_under_the_prefix()
    {
        var tag = Guid.NewGuid().ToString("N")[..12];
        var under = new[] { env.Origin.Url($"/bytes/1k?p={tag}&n=1"), env.Origin.Url($"/bytes/2k?p={tag}&n=2") };
        var prefixUnder = new[] { env.Origin.Url($"/bytes/1k?p={tag}&n=3") };
        var outside = env.Origin.Url($"/bytes/1k?p={tag}x");
        foreach (var u in under.Concat(prefixUnder).Append(outside)) await env.GetAsync(0, u);

        // "/bytes/1k?p=TAG&" covers n=1 and n=3, not the 2k one nor TAGx.
        var purge = await PurgeCurl.ViaProxyAsync(env.Node(1), env.Origin.Url($"/bytes/1k?p={tag}&"), ("X-Purge-Method", "prefix"));
        Assert.Equal(200, purge.Status);
        Assert.Equal("2", purge.Header("X-Purged"));
        Assert.Contains("fwd=uri-miss", await env.GetAsync(1, under[0]));
        Assert.Contains("fwd=uri-miss", await env.GetAsync(1, prefixUnder[0]));
        Assert.Contains("hit", await env.GetAsync(1, under[1]));
        Assert.Contains("hit", await env.GetAsync(1, outside));
    }

    [Fact]
    public async Task The_WordPress_plugin_form_purges_a_site_path_by_regex_in_reverse_proxy_form()
    {
        var site = new Uri("http://www.purge.test");
        var inside = new Uri(site, "/bytes/1k?wp=" + Guid.NewGuid().ToString("N")[..8]);
        await env.GetAsync(0, inside);
        Assert.Contains("hit", await env.GetAsync(1, inside));

        // PURGE /bytes/1k.* with Host: www.purge.test, as "Proxy Cache Purge" sends it (X-Purge-Method: regex).
        var purge = await PurgeCurl.ReverseAsync(env.Node(1), "www.purge.test", "/bytes/1k?wp=.*", ("X-Purge-Method", "regex"));
        Assert.Equal(400, purge.Status); // '?' is a regular-expression character: refused rather than guessed
        Assert.Contains("regex", purge.Body);

        purge = await PurgeCurl.ReverseAsync(env.Node(1), "www.purge.test", "/bytes/.*", ("X-Purge-Method", "regex"));
        Assert.Equal(200, purge.Status);
        Assert.Contains("fwd=uri-miss", await env.GetAsync(0, inside));
    }

    [Fact]
    public async Task Surrogate_keys_in_xkey_or_Surrogate_Key_purge_every_tagged_entry()
    {
        var tag = "t" + Guid.NewGuid().ToString("N")[..10];
        var other = "o" + Guid.NewGuid().ToString("N")[..10];
        var tagged = new[]
        {
            env.Origin.Url(Unique($"/bytes/1k?skey={tag}%20x")),
            env.Origin.Url(Unique($"/bytes/1k?ctag=y,{tag}")),
            env.Origin.Url(Unique($"/bytes/1k?skey={other}")),
        };
        var untagged = env.Origin.Url(Unique($"/bytes/1k?skey={tag}z"));
        foreach (var u in tagged.Append(untagged)) await env.GetAsync(0, u);

        // Varnish xkey: the keys in a request header, separated by spaces; the URL is not what is purged.
        var purge = await PurgeCurl.ViaProxyAsync(env.Node(1), env.Origin.Url("/"), ("xkey", $"{tag} {other}"));
        Assert.Equal(200, purge.Status);
        Assert.Equal("3", purge.Header("X-Purged"));
        foreach (var u in tagged) Assert.Contains("fwd=uri-miss", await env.GetAsync(1, u));
        Assert.Contains("hit", await env.GetAsync(1, untagged));

        var again = await PurgeCurl.ViaProxyAsync(env.Node(0), env.Origin.Url("/"), ("Surrogate-Key", "nothing-" + tag));
        Assert.Equal(404, again.Status);
    }

    [Fact]
    public async Task A_bad_purge_header_is_refused_with_400_naming_it()
    {
        var purge = await PurgeCurl.ViaProxyAsync(env.Node(0), env.Origin.Url(Unique("/bytes/1k")), ("X-Purge-Method", "ban"));
        Assert.Equal(400, purge.Status);
        Assert.Contains("X-Purge-Method: 'ban' is not one of", purge.Body);
    }
}
