using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.FrontEnd.Hardening;

/// <summary>
/// Requests built to smuggle, split or poison, sent as raw bytes. For each: the status the client must get,
/// the node still answering, and a cached object unchanged for everybody else (same body, still a hit,
/// the origin asked once).
/// </summary>
public class AdversarialTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    private static readonly string Primed = "/bytes/1k?seed=adversarial&cc=max-age%3D3600";

    public static TheoryData<string, string, int> Corpus()
    {
        // {O} = origin authority (127.0.0.1:port), {P} = the primed (cached) path.
        var d = new TheoryData<string, string, int>
        {
            { "content-length-and-transfer-encoding", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400 },
            { "two-different-content-lengths", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400 },
            { "content-length-list", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nContent-Length: 5, 5\r\n\r\nhello", 400 },
            { "invalid-content-length", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nContent-Length: 5x\r\n\r\nhello", 400 },
            { "negative-content-length", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nContent-Length: -1\r\n\r\n", 400 },
            { "transfer-coding-not-ending-in-chunked", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nTransfer-Encoding: gzip\r\n\r\nxx", 400 },
            { "unknown-transfer-coding-before-chunked", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501 },
            { "two-transfer-encoding-fields", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501 },
            { "obs-fold", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-Folded: a\r\n b\r\n\r\n", 400 },
            { "bare-lf-line-ends", "GET http://{O}{P} HTTP/1.1\nHost: {O}\n\n", 400 },
            { "bare-cr-in-value", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-A: a\rb\r\n\r\n", 400 },
            { "nul-in-value", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-A: a\0b\r\n\r\n", 400 },
            { "space-before-colon", "GET http://{O}{P} HTTP/1.1\r\nHost : {O}\r\n\r\n", 400 },
            { "bad-byte-in-name", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX(A): 1\r\n\r\n", 400 },
            // obs-text (bytes 0x80-0xFF) is legal in a field value (RFC 9110 5.5): passed on as opaque bytes.
            { "eight-bit-value", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-A: caf\u00e9\r\n\r\n", 200 },
            { "two-host-fields", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nHost: evil.test\r\n\r\n", 400 },
            { "space-in-target", "GET http://{O}/a b HTTP/1.1\r\nHost: {O}\r\n\r\n", 400 },
            { "bad-method-token", "G(T http://{O}{P} HTTP/1.1\r\nHost: {O}\r\n\r\n", 400 },
            { "unknown-version", "GET http://{O}{P} HTTP/1.2\r\nHost: {O}\r\n\r\n", 505 },
            { "request-line-too-long", "GET http://{O}/" + new string('a', 10_000) + " HTTP/1.1\r\nHost: {O}\r\n\r\n", 414 },
            { "headers-too-large", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-Big: " + new string('b', 40_000) + "\r\n\r\n", 431 },
            { "too-many-headers", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"X-H{i}: {i}\r\n")) + "\r\n", 431 },
            { "unsupported-expectation", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nExpect: 200-ok\r\n\r\n", 417 },
            { "max-forwards-not-a-number", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nMax-Forwards: x\r\n\r\n", 400 },
            { "userinfo-in-url", "GET http://user:pw@{O}{P} HTTP/1.1\r\nHost: {O}\r\n\r\n", 400 },
            { "ftp-scheme", "GET ftp://{O}/x HTTP/1.1\r\nHost: {O}\r\n\r\n", 400 },
            { "asterisk-target", "OPTIONS * HTTP/1.1\r\nHost: {O}\r\n\r\n", 400 },
            { "via-loop", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nVia: 1.1 test-node\r\n\r\n", 508 },
            { "bad-chunk-size", "POST http://{O}/echo HTTP/1.1\r\nHost: {O}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400 },
            // Poisoning attempts that are served, but only what the URL names: Host and unkeyed headers change nothing.
            { "host-disagrees-with-url", "GET http://{O}{P} HTTP/1.1\r\nHost: evil.test\r\n\r\n", 200 },
            { "forwarded-host-injection", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nX-Forwarded-Host: evil.test\r\nX-Original-URL: /admin\r\n\r\n", 200 },
            { "get-with-smuggled-body", "GET http://{O}{P} HTTP/1.1\r\nHost: {O}\r\nContent-Length: 38\r\n\r\nGET http://{O}/bytes/1k?x=1 HTTP/1.1\r\n\r\n", 200 },
        };
        return d;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Malformed_and_hostile_requests(string name, string template, int expected)
    {
        // Prime the shared object once (first case to run does it; later cases must see it unchanged).
        using (var prime = await env.Client.GetAsync(env.Origin.Url(Primed)))
            Assert.Equal(HttpStatusCode.OK, prime.StatusCode);
        var authority = $"127.0.0.1:{env.Origin.HttpBase.Port}";
        var request = template.Replace("{O}", authority).Replace("{P}", Primed);
        var (status, head) = await RawHttp.SendAsync(env.Node.ProxyPort, Encoding.Latin1.GetBytes(request.Replace("\u00e9", "\u00e9")));
        Assert.True(status == expected, $"{name}: expected {expected}, got {status}:\n{head}");

        // The node is still up and everyone else still gets the stored object, unchanged, from the cache.
        using var after = await env.Client.GetAsync(env.Origin.Url(Primed));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(OriginContent.Expected(Primed), await after.Content.ReadAsByteArrayAsync());
        Assert.Contains("hit", after.CacheStatus());
        Assert.Equal(1, env.Origin.RequestCount(Primed));
    }

    [Fact]
    public async Task An_origins_malformed_response_headers_are_never_passed_on_or_stored_but_obs_text_is()
    {
        // A raw origin: a control character in one header value, obs-text (8-bit bytes, legal in field values,
        // RFC 9110 5.5) in another, a good header between them.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var serve = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var c = await listener.AcceptTcpClientAsync(stop.Token);
                var s = c.GetStream();
                await RawHttp.ReadHeadAsync(s, TimeSpan.FromSeconds(10));
                await s.WriteAsync(Encoding.Latin1.GetBytes(
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad-8bit: caf\u00e9\r\nX-Good: fine\r\nX-Bad-Ctl: a\u0001b\r\nCache-Control: max-age=60\r\n\r\nok"));
                await s.FlushAsync();
            }
        });
        try
        {
            var url = $"http://127.0.0.1:{port}/split";
            for (int i = 0; i < 2; i++) // the miss, then the hit from the cache
            {
                using var r = await env.Client.GetAsync(url);
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                Assert.Equal("ok", await r.Content.ReadAsStringAsync());
                Assert.Equal("fine", r.Header("X-Good"));
                Assert.Equal("caf\u00e9", r.Header("X-Bad-8bit")); // passed on byte for byte (Latin-1), not refused
                Assert.Null(r.Header("X-Bad-Ctl"));
                if (i == 1) Assert.Contains("hit", r.CacheStatus());
            }
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
            try { await serve; } catch (Exception) { }
        }
    }
}
