using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>What a forward proxy must do besides caching: every method, bodies both ways, clean headers, clear errors.</summary>
public class ForwardingTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private HttpClient Client => env.Client;

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public async Task Every_method_is_forwarded_with_its_body(string method)
    {
        var path = NodeAndOrigin.Unique("/echo");
        var payload = new byte[300_000];
        Random.Shared.NextBytes(payload);
        using var req = new HttpRequestMessage(new HttpMethod(method), env.Origin.Url(path)) { Content = new ByteArrayContent(payload) };
        using var r = await Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var seen = env.Origin.RequestsFor(path).Single();
        Assert.Equal(method, seen.Method);
        Assert.Equal(payload.Length, seen.BodyLength);
        Assert.Contains("fwd=method", r.CacheStatus());
    }

    [Fact]
    public async Task Hop_by_hop_headers_are_removed_and_nothing_of_ours_leaks_upstream()
    {
        var path = NodeAndOrigin.Unique("/echo");
        using var req = new HttpRequestMessage(HttpMethod.Get, env.Origin.Url(path));
        // (Kestrel reduces a request Connection list that contains keep-alive to just "keep-alive", so the
        // listed-names case is tested without it.)
        req.Headers.TryAddWithoutValidation("Connection", "X-Secret-Hop");
        req.Headers.TryAddWithoutValidation("X-Secret-Hop", "1");
        req.Headers.TryAddWithoutValidation("Keep-Alive", "timeout=5");
        req.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic Zm9vOmJhcg==");
        req.Headers.TryAddWithoutValidation("X-End-To-End", "kept");
        using var r = await Client.SendAsync(req);
        var seen = env.Origin.RequestsFor(path).Single();
        Assert.False(seen.HasHeader("X-Secret-Hop"));
        Assert.False(seen.HasHeader("Keep-Alive"));
        Assert.False(seen.HasHeader("Proxy-Authorization"));
        Assert.False(seen.HasHeader("traceparent"));
        Assert.False(seen.HasHeader("Proxy-Connection"));
        Assert.Equal("kept", seen.Header("X-End-To-End"));
        Assert.Contains("1.1 test-node", seen.Header("Via"));
    }

    [Fact]
    public async Task An_unreachable_origin_is_a_502_that_says_so()
    {
        using var refusing = Ports.Refusing();
        using var r = await Client.GetAsync($"http://{refusing}/x");
        Assert.Equal(HttpStatusCode.BadGateway, r.StatusCode);
        Assert.Contains("refused the connection", await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_slow_origin_is_a_504_after_the_configured_timeout()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k?delay=5000");
        using var r = await Client.GetAsync(env.Origin.Url(path));
        Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode);
        Assert.Contains("did not answer in time", await r.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("GET foo HTTP/1.1\r\nHost: x\r\n\r\n", "405")] // Kestrel: authority-form is for CONNECT only
    [InlineData("GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    [InlineData("GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    [InlineData("GET http://user:pw@127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    [InlineData("CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n", "403")]
    [InlineData("CONNECT nonsense HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    public async Task Malformed_or_refused_requests_get_a_clear_status(string raw, string status)
    {
        var response = await RawExchange.SendAsync(env.Node.ProxyPort, raw);
        Assert.StartsWith($"HTTP/1.1 {status}", response);
    }

    [Fact]
    public async Task Connect_tunnels_to_an_https_origin()
    {
        var path = NodeAndOrigin.Unique("/bytes/100k");
        using var r = await Client.GetAsync(env.Origin.HttpsUrl(path));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(CacheCluster.TestOrigin.OriginContent.Expected(path, 100 * 1024), await r.Content.ReadAsByteArrayAsync());
        Assert.Equal("https", env.Origin.RequestsFor(path).Single().Scheme);
    }

    [Fact]
    public async Task Connect_works_after_keep_alive_requests_on_the_same_connection()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, env.Node.ProxyPort);
        var stream = tcp.GetStream();
        var plainPath = NodeAndOrigin.Unique("/bytes/1k");
        var get = $"GET {env.Origin.Url(plainPath)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(get));
        var head = await RawExchange.ReadHeadAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", head);
        var body = new byte[1024];
        await stream.ReadExactlyAsync(body);

        var https = env.Origin.HttpsBase!;
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{https.Port} HTTP/1.1\r\nHost: 127.0.0.1:{https.Port}\r\n\r\n"));
        var established = await RawExchange.ReadHeadAsync(stream);
        Assert.StartsWith("HTTP/1.1 200", established);

        await using var tls = new SslStream(stream, leaveInnerStreamOpen: true, (_, cert, _, _) => env.Origin.IsOriginCertificate(cert));
        await tls.AuthenticateAsClientAsync("localhost");
        var tlsPath = NodeAndOrigin.Unique("/bytes/2k");
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {tlsPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
        var tunnelled = await RawExchange.ReadHeadAsync(tls);
        Assert.StartsWith("HTTP/1.1 200", tunnelled);
        Assert.Equal(1, env.Origin.RequestCount(tlsPath));
    }

    [Fact]
    public async Task Curl_sees_a_miss_then_a_hit()
    {
        var url = env.Origin.Url(NodeAndOrigin.Unique("/bytes/1k")).ToString();
        var first = await Curl.RunAsync("-s", "-D", "-", "-o", "/dev/null", "-x", env.Node.ProxyUri.ToString(), url);
        var second = await Curl.RunAsync("-s", "-D", "-", "-o", "/dev/null", "-x", env.Node.ProxyUri.ToString(), url);
        Assert.Contains("fwd=uri-miss", first, StringComparison.OrdinalIgnoreCase);
        Assert.Matches("(?im)^cache-status: CacheCluster; hit; ttl=\\d+", second);
        Assert.Matches("(?im)^age: \\d+", second);
    }

    [Fact]
    public async Task Curl_tunnels_https_through_connect()
    {
        var url = env.Origin.HttpsUrl(NodeAndOrigin.Unique("/bytes/10k")).ToString();
        var output = await Curl.RunAsync("-s", "-k", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-x", env.Node.ProxyUri.ToString(), url);
        Assert.Equal("200 10240", output.Trim());
    }
}

public static class RawExchange
{
    public static async Task<string> SendAsync(int port, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        return await ReadHeadAsync(stream);
    }

    /// <summary>Reads up to the end of the response head, byte by byte, so nothing after it is consumed.</summary>
    public static async Task<string> ReadHeadAsync(Stream stream)
    {
        var sb = new StringBuilder();
        var one = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!sb.ToString().EndsWith("\r\n\r\n"))
        {
            if (await stream.ReadAsync(one, cts.Token) == 0) break;
            sb.Append((char)one[0]);
        }
        return sb.ToString();
    }
}

public static class Curl
{
    public static async Task<string> RunAsync(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"curl exited {p.ExitCode}: {await p.StandardError.ReadToEndAsync()}");
        return output;
    }
}
