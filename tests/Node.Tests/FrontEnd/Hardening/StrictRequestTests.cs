using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.FrontEnd.Hardening;

/// <summary>
/// Request targets and framing a proxy must refuse before anything reaches an origin or a cache key
/// (RFC 9112 3.2, 6.1, 6.3; RFC 3986 2), sent as raw bytes; the origin must not see them.
/// </summary>
public class StrictRequestTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    public static TheoryData<string, string> Refused() => new()
    {
        // {O} = the origin's authority; www.example.test is a configured reverse-proxy site.
        { "fragment-absolute", "GET http://{O}/bytes/1k?frag#x.exe HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "fragment-origin-form", "GET /bytes/1k?frag2#top HTTP/1.1\r\nHost: www.example.test\r\n\r\n" },
        { "double-quote", "GET http://{O}/bytes/1k?q=\"x HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "less-than", "GET http://{O}/bytes/1k?q=<x HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "greater-than", "GET http://{O}/bytes/1k?q=>x HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "pipe", "GET http://{O}/bytes/1k?q=a|b HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "caret", "GET http://{O}/bytes/1k?q=a^b HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "braces", "GET http://{O}/bytes/1k?q={x} HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "backslash", "GET http://{O}/bytes/1k?q=a\\b HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "backtick", "GET http://{O}/bytes/1k?q=a`b HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "control-character", "GET http://{O}/bytes/1k?q=a\u0001b HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "delete-character", "GET http://{O}/bytes/1k?q=a\u007fb HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        { "eight-bit-in-target", "GET http://{O}/bytes/1k?q=caf\u00e9 HTTP/1.1\r\nHost: {O}\r\n\r\n" },
        // A chunk size that overflows 64 bits is the client's malformed body: 400, not an origin failure (502).
        { "chunk-size-overflow", "POST http://{O}/echo?overflow HTTP/1.1\r\nHost: {O}\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Refused_with_400(string name, string template)
    {
        var request = template.Replace("{O}", $"127.0.0.1:{env.Origin.HttpBase.Port}");
        var (status, head) = await RawHttp.SendAsync(env.Node.ProxyPort, Encoding.Latin1.GetBytes(request));
        Assert.True(status == 400, $"{name}: expected 400, got {status}:\n{head}");
    }

    [Fact]
    public async Task A_fragment_never_reaches_the_origin()
    {
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var (status, _) = await RawHttp.SendAsync(env.Node.ProxyPort,
            $"GET http://127.0.0.1:{env.Origin.HttpBase.Port}{path}#frag HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.Equal(400, status);
        Assert.Equal(0, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task An_http10_request_with_a_chunked_body_does_not_keep_the_connection()
    {
        // RFC 9112 6.1: a chunked body from an HTTP/1.0 client cannot be trusted to be framed as the client
        // meant: answer (or refuse) and close, so nothing that follows is read as another request.
        var authority = $"127.0.0.1:{env.Origin.HttpBase.Port}";
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, env.Node.ProxyPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST http://{authority}/echo?http10 HTTP/1.0\r\nHost: {authority}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        var (status, text) = await RawHttp.ReadHeadAsync(stream, TimeSpan.FromSeconds(10));
        Assert.True(status is 200 or 400, $"got {status}: {text}");
        // A second request on the same connection is never answered: the node closed it.
        try { await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET http://{authority}/bytes/1k HTTP/1.1\r\nHost: {authority}\r\n\r\n")); }
        catch (IOException) { }
        var (second, secondText) = await RawHttp.ReadHeadAsync(stream, TimeSpan.FromSeconds(5));
        Assert.True(second == 0, $"the connection stayed open and answered: {secondText}");
    }
}
