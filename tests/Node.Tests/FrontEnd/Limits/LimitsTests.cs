using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Policy;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.FrontEnd.Limits;

/// <summary>A node whose SSRF guard refuses loopback destinations (Guard:AllowLoopback=false) and tight limits.</summary>
public sealed class LimitedNode : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        var htpasswd = Path.Combine(TempDir.Create("limits"), "htpasswd");
        File.WriteAllText(htpasswd, $"erin:{PolicyNode.Hash("erin-pw")}\n");
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Auth:HtpasswdFile"] = htpasswd,
            ["Auth:Required"] = "false",
            ["Limits:UserConcurrentRequests"] = "2",
            ["Guard:AllowLoopback"] = "false", // stricter than the default (loopback allowed)
            ["Guard:AllowNetworks"] = $"127.0.0.2/32",
            ["Limits:ClientRequestsPerSecond"] = "2",
            ["Limits:ClientBurst"] = "4",
            ["Limits:ClientConnections"] = "3",
            ["Limits:RequestHeadersTimeout"] = "2s",
            ["Limits:MaxRequestBodySize"] = "1KiB",
            ["Limits:ClientBandwidth"] = "256KiB",
            ["Proxy:Sites:www.site.test"] = Origin.HttpBase.ToString(),
        });
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

[Collection("limits")] // the tests share one client address and its budgets: one at a time, in order
public class LimitsTests(LimitedNode env) : IClassFixture<LimitedNode>
{
    private async Task WaitForBudgetAsync()
    {
        // Let the token bucket refill (2/s, 4 burst) before a test spends it.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public async Task Loopback_destinations_are_refused_when_the_guard_says_so()
    {
        await WaitForBudgetAsync();
        using var client = env.Node.CreateClient();
        // (The origin's own 127.0.0.1:port is a configured Proxy:Sites origin, which the guard trusts: see the next test.)
        var port = Ports.Free();
        using var r = await client.GetAsync($"http://127.0.0.1:{port}/x");
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode); // refused before connecting: not a 502
        Assert.Contains($"127.0.0.1:{port} is refused: loopback destinations are refused (Guard:AllowLoopback)", await r.Content.ReadAsStringAsync());
        var path = NodeAndOrigin.Unique("/bytes/1k");
        using var localhost = await client.GetAsync($"http://localhost:{env.Origin.HttpBase.Port}{path}");
        Assert.Equal(HttpStatusCode.Forbidden, localhost.StatusCode);
        Assert.Contains("'localhost' resolves to", await localhost.Content.ReadAsStringAsync());
        Assert.Equal(0, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Reverse_proxy_sites_reach_their_configured_origin_even_on_loopback()
    {
        await WaitForBudgetAsync();
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var (status, head) = await RawHttp.SendAsync(env.Node.ProxyPort, $"GET {path} HTTP/1.1\r\nHost: www.site.test\r\nConnection: close\r\n\r\n");
        Assert.True(status == 200, head);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task A_user_cannot_have_more_requests_in_flight_than_allowed()
    {
        await WaitForBudgetAsync();
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("erin:erin-pw"));
        // Three slow requests at once (within the client's burst of 4 and its 3 connections); two may be in flight for erin.
        var results = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => RawHttp.SendAsync(env.Node.ProxyPort,
            $"GET /status/204?delay=1500&i={i}&t={Guid.NewGuid():N} HTTP/1.1\r\nHost: www.site.test\r\nProxy-Authorization: Basic {auth}\r\nConnection: close\r\n\r\n")));
        Assert.True(results.Count(r => r.Status == 204) == 2, string.Join("\n----\n", results.Select(r => r.Head)));
        Assert.True(results.Count(r => r.Status == 429 && r.Head.Contains("too many concurrent requests for user 'erin'")) == 1, string.Join("\n----\n", results.Select(r => r.Head)));
    }

    [Fact]
    public async Task A_client_bandwidth_cap_paces_downloads()
    {
        await WaitForBudgetAsync();
        var path = NodeAndOrigin.Unique("/bytes/1m");
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, env.Node.ProxyPort);
        var stream = tcp.GetStream();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: www.site.test\r\nConnection: close\r\n\r\n"));
        var received = new MemoryStream();
        await stream.CopyToAsync(received);
        started.Stop();
        var text = Encoding.Latin1.GetString(received.GetBuffer(), 0, 200);
        Assert.StartsWith("HTTP/1.1 200", text);
        Assert.True(received.Length > 1 << 20, $"got {received.Length} bytes");
        // 1 MiB at 256 KiB/s with one second of burst: at least ~3 s (a loaded machine only makes it slower).
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(2.5), $"1 MiB took only {started.Elapsed}");
    }

    [Fact]
    public async Task A_client_over_its_request_rate_gets_429_with_retry_after_then_recovers()
    {
        await WaitForBudgetAsync();
        using var client = env.Node.CreateClient();
        var statuses = new List<HttpStatusCode>();
        string? retryAfter = null;
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 12; i++)
        {
            using var r = await client.GetAsync($"http://127.0.0.2:{env.Origin.HttpBase.Port}/status/204");
            statuses.Add(r.StatusCode);
            if (r.StatusCode == HttpStatusCode.TooManyRequests)
            {
                retryAfter ??= r.Headers.RetryAfter?.Delta?.TotalSeconds.ToString();
                Assert.Contains("too many requests from 127.0.0.1", await r.Content.ReadAsStringAsync());
            }
        }
        // The burst (4) passes (the guard's allow-list lets 127.0.0.2 through, nothing listens there: 502), then what the
        // bucket refills (2/s) while the requests run (slow on a loaded machine); the rest is refused. The bucket sat
        // full for 2.5 s first: that idle time must not buy extra requests.
        var allowed = 4 + (int)Math.Ceiling(2 * elapsed.Elapsed.TotalSeconds);
        Assert.True(statuses.Count(s => s != HttpStatusCode.TooManyRequests) <= allowed, $"{string.Join(",", statuses)} in {elapsed.Elapsed}");
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        Assert.NotNull(retryAfter);
        Assert.True(int.Parse(retryAfter!) >= 1);

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        using var again = await client.GetAsync($"http://127.0.0.2:{env.Origin.HttpBase.Port}/status/204");
        Assert.NotEqual(HttpStatusCode.TooManyRequests, again.StatusCode);
    }

    [Fact]
    public async Task A_client_cannot_hold_more_connections_than_allowed()
    {
        await WaitForBudgetAsync();
        var open = new List<TcpClient>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, env.Node.ProxyPort);
                open.Add(c);
            }
            await Task.Delay(300); // the node has counted them
            var (status, head) = await RawHttp.SendAsync(env.Node.ProxyPort, "GET http://example.test/ HTTP/1.1\r\nHost: example.test\r\n\r\n");
            Assert.Equal(429, status);
            Assert.Contains("Retry-After: 5", head);
        }
        finally
        {
            foreach (var c in open) c.Dispose();
        }
        // Closed connections free their slots.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        int after;
        do
        {
            await Task.Delay(200);
            (after, _) = await RawHttp.SendAsync(env.Node.ProxyPort, $"GET http://127.0.0.2:{env.Origin.HttpBase.Port}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        } while (after == 429 && DateTime.UtcNow < deadline);
        Assert.NotEqual(429, after);
    }

    [Fact]
    public async Task A_slow_client_is_cut_off_after_the_header_timeout()
    {
        await WaitForBudgetAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, env.Node.ProxyPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET http://example.test/ HTTP/1.1\r\nHost: exa"));
        var started = DateTime.UtcNow;
        var (status, _) = await RawHttp.ReadHeadAsync(stream, TimeSpan.FromSeconds(30));
        var waited = DateTime.UtcNow - started;
        // Kestrel answers 408 (or just closes) once Limits:RequestHeadersTimeout (2 s) has passed.
        Assert.True(status is 408 or 0, $"status {status}");
        Assert.True(waited < TimeSpan.FromSeconds(25), $"held for {waited}");
    }

    [Fact]
    public async Task A_body_over_the_limit_is_refused_with_413()
    {
        await WaitForBudgetAsync();
        var body = new string('x', 4096);
        var (status, _) = await RawHttp.SendAsync(env.Node.ProxyPort,
            $"POST http://127.0.0.2:{env.Origin.HttpBase.Port}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\n\r\n{body}");
        Assert.Equal(413, status);
    }
}
