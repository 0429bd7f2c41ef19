using System.Net;
using System.Text.Json;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>
/// The HTTPS proxy listener (Proxy:HttpsListen) with real clients: curl's --proxy https:// (HTTP/1.1 to the proxy),
/// HttpClient and node.js speaking HTTP/2 to it; forward requests, CONNECT, access rules, access log and PAC.
/// </summary>
public class HttpsProxyTests(HttpsProxyNode f) : IClassFixture<HttpsProxyNode>
{
    private string[] ViaHttpsProxy => ["--proxy", f.ProxyUrl, "--proxy-cacert", f.Certificates.CaPath];

    [Fact]
    public async Task Curl_through_the_https_proxy_gets_a_miss_then_a_hit()
    {
        var url = f.Origin.Url(NodeAndOrigin.Unique("/bytes/1k"));
        var first = await TlsClients.CurlAsync([.. ViaHttpsProxy, "-D", "-", "-o", "/dev/null", url.ToString()]);
        var second = await TlsClients.CurlAsync([.. ViaHttpsProxy, "-D", "-", "-o", "/dev/null", url.ToString()]);
        Assert.True(first.Exit == 0, first.Err);
        Assert.StartsWith("HTTP/1.1 200", first.Out);
        Assert.Contains("fwd=uri-miss", first.Out);
        Assert.Contains("Cache-Status: CacheCluster; hit", second.Out);
        Assert.Equal(1, f.Origin.RequestCount(url.PathAndQuery));
    }

    [Fact]
    public async Task Curl_refuses_the_proxy_without_its_ca_and_gets_no_answer()
    {
        var url = f.Origin.Url(NodeAndOrigin.Unique("/bytes/1k"));
        var r = await TlsClients.CurlAsync("--proxy", f.ProxyUrl, "-o", "/dev/null", url.ToString());
        Assert.Equal(60, r.Exit); // CURLE_PEER_FAILED_VERIFICATION: the proxy's certificate is checked
        Assert.Equal(0, f.Origin.RequestCount(url.PathAndQuery));
    }

    [Fact]
    public async Task Connect_over_the_https_proxy_reaches_an_https_origin_end_to_end()
    {
        var url = f.Origin.HttpsUrl(NodeAndOrigin.Unique("/bytes/64k"));
        var r = await TlsClients.CurlAsync([.. ViaHttpsProxy, "--cacert", f.OriginCaPath, "-o", "-", "-w", "\n%{http_connect} %{http_code} %{size_download}", url.ToString()]);
        Assert.True(r.Exit == 0, r.Err);
        Assert.EndsWith("\n200 200 65536", r.Out);
        Assert.Equal(1, f.Origin.RequestCount(url.PathAndQuery));
    }

    [Fact]
    public async Task Access_rules_and_the_access_log_apply_on_the_https_listener()
    {
        var denied = await TlsClients.CurlAsync([.. ViaHttpsProxy, "-o", "/dev/null", "-w", "%{http_code}", "http://play.games.test/x"]);
        Assert.Equal("403", denied.Out);
        // A path no other test uses: the log strips query strings (AccessLog:StripQuery).
        var url = f.Origin.Url("/bytes/4321?cc=no-store");
        var ok = await TlsClients.CurlAsync([.. ViaHttpsProxy, "-o", "/dev/null", "-w", "%{http_code}", url.ToString()]);
        Assert.Equal("200", ok.Out);
        var logged = url.GetLeftPart(UriPartial.Path);
        var lines = await WaitForLogLinesAsync(l => l.Contains(logged) || l.Contains("play.games.test"), 2);
        Assert.Contains(lines, l => l.Contains("TCP_DENIED/403") && l.Contains("http://play.games.test/x"));
        Assert.True(lines.Any(l => l.Contains("TCP_MISS/200") && l.Contains(logged)), string.Join("\n", lines));
    }

    [Fact]
    public async Task Http2_forward_requests_get_a_miss_then_a_hit()
    {
        using var client = TlsClients.Http2ViaProxy(f.HttpsPort, f.Certificates.Ca);
        var url = f.Origin.Url(NodeAndOrigin.Unique("/bytes/64k"));
        using var first = await client.GetAsync(url);
        var body = await first.Content.ReadAsByteArrayAsync();
        using var second = await client.GetAsync(url);
        Assert.Equal(HttpVersion.Version20, first.Version);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(OriginContent.Expected(url.PathAndQuery), body);
        Assert.Contains("fwd=uri-miss", first.CacheStatus());
        Assert.StartsWith("CacheCluster; hit", second.CacheStatus());
        Assert.Equal(OriginContent.Expected(url.PathAndQuery), await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, f.Origin.RequestCount(url.PathAndQuery));
    }

    [Fact]
    public async Task Http2_connect_tunnels_one_stream_while_the_connection_serves_others()
    {
        var tunnelled = NodeAndOrigin.Unique("/bytes/1k");
        var forwarded = f.Origin.Url(NodeAndOrigin.Unique("/bytes/123"));
        var script = $$"""
            const http2 = require('http2'), fs = require('fs');
            const s = http2.connect('{{f.ProxyUrl}}', { ca: fs.readFileSync({{JsonSerializer.Serialize(f.Certificates.CaPath)}}) });
            s.on('error', e => { console.log('session-error ' + e.message); process.exit(2); });
            const t = s.request({ ':method': 'CONNECT', ':authority': '127.0.0.1:{{f.Origin.HttpBase.Port}}' });
            let tunnel = '';
            t.on('response', h => {
              console.log('connect ' + h[':status']);
              // A forward request on another stream of the same connection while the tunnel is open.
              const g = s.request({ ':method': 'GET', ':scheme': 'http', ':authority': '127.0.0.1:{{f.Origin.HttpBase.Port}}', ':path': {{JsonSerializer.Serialize(forwarded.PathAndQuery)}} });
              g.on('response', gh => console.log('get ' + gh[':status']));
              g.resume(); g.end();
              g.on('close', () => t.write('GET {{tunnelled}} HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n'));
            });
            t.setEncoding('latin1');
            t.on('data', d => tunnel += d);
            t.on('end', () => { console.log('tunnel ' + tunnel.split('\r\n')[0] + ' ' + tunnel.length); s.close(); });
            t.on('error', e => { console.log('stream-error ' + e.message); process.exit(3); });
            """;
        var output = await TlsClients.NodeAsync(script);
        Assert.Contains("connect 200", output);
        Assert.Contains("get 200", output);
        Assert.Contains("tunnel HTTP/1.1 200 OK", output);
        Assert.Equal(1, f.Origin.RequestCount(tunnelled)); // through the tunnel, straight to the origin
        Assert.Equal(1, f.Origin.RequestCount(forwarded.PathAndQuery));
    }

    [Fact]
    public async Task Http2_extended_connect_is_refused_with_a_reason()
    {
        var script = $$"""
            const http2 = require('http2'), fs = require('fs');
            const s = http2.connect('{{f.ProxyUrl}}', { ca: fs.readFileSync({{JsonSerializer.Serialize(f.Certificates.CaPath)}}) });
            s.on('error', e => { console.log('session-error ' + e.message); process.exit(2); });
            s.on('remoteSettings', () => {
              const r = s.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':path': '/chat', ':authority': '127.0.0.1:{{f.Origin.HttpBase.Port}}' });
              let body = '';
              r.on('response', h => console.log('status ' + h[':status']));
              r.setEncoding('utf8'); r.on('data', d => body += d);
              r.on('end', () => { console.log('body ' + body.trim()); s.close(); });
            });
            """;
        var output = await TlsClients.NodeAsync(script);
        Assert.Contains("status 400", output);
        Assert.Contains("extended CONNECT (:protocol websocket) is not proxied", output);
    }

    [Fact]
    public async Task Pac_offers_the_https_listener()
    {
        using var http = new HttpClient();
        var plain = await http.GetStringAsync(new Uri(f.Node.ProxyUri, "/proxy.pac"));
        Assert.Contains($"\"HTTPS 127.0.0.1:{f.HttpsPort}; PROXY 127.0.0.1:{f.Node.ProxyPort}; DIRECT\"", plain);
        var overTls = await TlsClients.CurlAsync("--cacert", f.Certificates.CaPath, $"{f.ProxyUrl}/proxy.pac");
        Assert.True(overTls.Exit == 0, overTls.Err);
        Assert.Contains($"\"HTTPS 127.0.0.1:{f.HttpsPort}; DIRECT\"", overTls.Out);
    }

    private async Task<List<string>> WaitForLogLinesAsync(Func<string, bool> match, int count)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        List<string> lines = [];
        while (DateTime.UtcNow < until)
        {
            if (File.Exists(f.AccessLog))
            {
                using var stream = new FileStream(f.AccessLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                lines = (await new StreamReader(stream).ReadToEndAsync()).Split('\n').Where(match).ToList();
                if (lines.Count >= count) return lines;
            }
            await Task.Delay(100);
        }
        return lines;
    }
}
