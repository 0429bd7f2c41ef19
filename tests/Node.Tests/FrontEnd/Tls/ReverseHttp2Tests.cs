using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>
/// Reverse-proxy (accelerator) sites served over the HTTPS listener with HTTP/2 by ALPN: curl --http2 sees the same
/// caching and single-flight as over HTTP/1.1.
/// </summary>
public class ReverseHttp2Tests(HttpsProxyNode f) : IClassFixture<HttpsProxyNode>
{
    private string[] Site => ["--cacert", f.Certificates.CaPath, "--resolve", $"{HttpsProxyNode.Site}:{f.HttpsPort}:127.0.0.1"];

    private string SiteUrl(string pathAndQuery) => $"https://{HttpsProxyNode.Site}:{f.HttpsPort}{pathAndQuery}";

    [Fact]
    public async Task Curl_http2_gets_a_miss_then_a_hit_from_the_site()
    {
        var path = NodeAndOrigin.Unique("/bytes/64k");
        var body = Path.Combine(TempDir.Create("h2body"), "body");
        var first = await TlsClients.CurlAsync([.. Site, "--http2", "-D", "-", "-o", body, SiteUrl(path)]);
        Assert.True(first.Exit == 0, first.Err);
        Assert.Equal(OriginContent.Expected(path), await File.ReadAllBytesAsync(body));
        var second = await TlsClients.CurlAsync([.. Site, "--http2", "-D", "-", "-o", body, SiteUrl(path)]);
        Assert.StartsWith("HTTP/2 200", first.Out);
        Assert.Contains("cache-status: CacheCluster; fwd=uri-miss", first.Out);
        Assert.StartsWith("HTTP/2 200", second.Out);
        Assert.Contains("cache-status: CacheCluster; hit", second.Out);
        Assert.Equal(OriginContent.Expected(path), await File.ReadAllBytesAsync(body));
        Assert.Equal(1, f.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Http2_and_http11_clients_share_the_site_entry()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var h2 = await TlsClients.CurlAsync([.. Site, "--http2", "-D", "-", "-o", "/dev/null", SiteUrl(path)]);
        var h11 = await TlsClients.CurlAsync([.. Site, "--http1.1", "-D", "-", "-o", "/dev/null", SiteUrl(path)]);
        // The plain listener with the same Host (the key is the Host as written, port included): one cache key
        // whatever the client's scheme, since the upstream request is the same.
        var plain = await TlsClients.CurlAsync("-D", "-", "-o", "/dev/null", "-H", $"Host: {HttpsProxyNode.Site}:{f.HttpsPort}", $"http://127.0.0.1:{f.Node.ProxyPort}{path}");
        Assert.StartsWith("HTTP/2 200", h2.Out);
        Assert.StartsWith("HTTP/1.1 200", h11.Out);
        Assert.True(h11.Out.Contains("Cache-Status: CacheCluster; hit"), h2.Out + h11.Out);
        Assert.Contains("Cache-Status: CacheCluster; hit", plain.Out);
        Assert.Equal(1, f.Origin.RequestCount(path));
    }

    [Fact]
    public async Task A_burst_multiplexed_on_one_http2_connection_reaches_the_origin_once()
    {
        // The origin holds its answer 800 ms, so every request of the burst arrives while the first is in flight.
        var path = NodeAndOrigin.Unique("/bytes/64k") + "&delay=800";
        const int burst = 20;
        var args = new List<string>(Site) { "--http2", "-Z", "--parallel-max", $"{burst}", "-w", "%{http_version} %{http_code} %{num_connects}\n" };
        for (int i = 0; i < burst; i++) args.AddRange(["-o", "/dev/null", SiteUrl(path)]);
        var r = await TlsClients.CurlAsync([.. args]);
        Assert.True(r.Exit == 0, r.Err);
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(burst, lines.Length);
        Assert.All(lines, l => Assert.StartsWith("2 200", l));
        Assert.Equal(1, lines.Sum(l => int.Parse(l.Split(' ')[2]))); // one TLS connection, 20 streams on it
        Assert.Equal(1, f.Origin.RequestCount(path));
    }

    [Fact]
    public async Task A_burst_from_httpclient_over_http2_reaches_the_origin_once_with_identical_bodies()
    {
        var path = NodeAndOrigin.Unique("/bytes/64k") + "&delay=800";
        using var handler = new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null } };
        handler.ConnectCallback = async (_, ct) =>
        {
            var s = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await s.ConnectAsync(System.Net.IPAddress.Loopback, f.HttpsPort, ct);
            return new System.Net.Sockets.NetworkStream(s, ownsSocket: true);
        };
        using var client = new HttpClient(handler)
        {
            DefaultRequestVersion = System.Net.HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var url = new Uri(SiteUrl(path));
        var bodies = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            using var response = await client.GetAsync(url);
            Assert.Equal(System.Net.HttpVersion.Version20, response.Version);
            return await response.Content.ReadAsByteArrayAsync();
        }));
        Assert.All(bodies, b => Assert.Equal(OriginContent.Expected(path), b));
        Assert.Equal(1, f.Origin.RequestCount(path));
    }
}
