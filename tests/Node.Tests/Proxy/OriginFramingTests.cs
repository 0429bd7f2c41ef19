using System.Diagnostics;
using System.Net;
using System.Text;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>One node whose origin-body idle timeout is short, so a stalled origin is noticed within a test.</summary>
public sealed class ShortIdleNode : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:OriginIdleTimeout"] = "1s",
            ["Proxy:OriginTimeout"] = "5s",
        });
        Client = Node.CreateClient(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
    }
}

/// <summary>
/// How the node reads an origin body's framing before it stores anything (RFC 9112 6.3): a body is committed
/// only once its framing says it ended, and framing that cannot prove an end is never stored.
/// </summary>
public class OriginFramingTests(ShortIdleNode env) : IClassFixture<ShortIdleNode>
{
    private const string Fresh = "Cache-Control: max-age=600\r\n";

    private async Task<(HttpStatusCode Status, string Body, string CacheStatus)> GetAsync(string url)
    {
        using var r = await env.Client.GetAsync(url);
        return (r.StatusCode, await r.Content.ReadAsStringAsync(), r.CacheStatus());
    }

    [Fact]
    public async Task Content_length_with_chunked_is_read_as_chunked_and_stored_whole()
    {
        // RFC 9112 6.3: Transfer-Encoding overrides Content-Length. Chunks "abc" then "de" under "Content-Length: 3".
        await using var origin = RawOrigin.Always("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n" + Fresh +
                                                  "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        var url = origin.Url("/cl-and-te");
        using (var first = await env.Client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.NotEqual(3, first.Content.Headers.ContentLength); // the conflicting length is not passed on
            Assert.Equal("abcde", await first.Content.ReadAsStringAsync());
        }
        var second = await GetAsync(url);
        Assert.Equal("abcde", second.Body);
        Assert.Contains("hit", second.CacheStatus);
    }

    [Fact]
    public async Task A_chunked_body_cut_short_is_never_stored()
    {
        // The last chunk never comes: the origin closes after "abc".
        await using var origin = RawOrigin.Always("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + Fresh + "\r\n3\r\nabc\r\n");
        var url = origin.Url("/chunked-cut");
        await Assert.ThrowsAnyAsync<Exception>(() => GetAsync(url)); // the client sees a broken body, never a whole one
        await Assert.ThrowsAnyAsync<Exception>(() => GetAsync(url)); // and the next client is not served "abc" from the cache
        Assert.Equal(2, origin.Requests);
    }

    [Fact]
    public async Task A_close_delimited_body_is_passed_on_but_not_stored()
    {
        // No Content-Length, not chunked: the body ends when the connection closes, which a cut connection looks like too.
        await using var origin = RawOrigin.Always("HTTP/1.1 200 OK\r\n" + Fresh + "Connection: close\r\n\r\nhello");
        var url = origin.Url("/close-delimited");
        var first = await GetAsync(url);
        Assert.Equal("hello", first.Body);
        Assert.Contains("close-delimited", first.CacheStatus);
        var second = await GetAsync(url);
        Assert.Equal("hello", second.Body);
        Assert.DoesNotContain("hit", second.CacheStatus);
        Assert.Equal(2, origin.Requests);
    }

    [Fact]
    public async Task A_stalled_origin_body_is_given_up_after_the_idle_timeout_and_followers_are_told()
    {
        // Headers and 10 bytes of 100000, then nothing (until the test ends).
        using var release = new CancellationTokenSource();
        await using var origin = new RawOrigin(async (_, s, ct) =>
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n" + Fresh + "\r\n0123456789"), ct);
            await s.FlushAsync(ct);
            using var both = CancellationTokenSource.CreateLinkedTokenSource(ct, release.Token);
            await Task.Delay(TimeSpan.FromSeconds(30), both.Token);
        });
        var url = origin.Url("/stall");
        var clock = Stopwatch.StartNew();
        var leader = ReadAllAsync(url);
        await Task.Delay(300);
        var follower = ReadAllAsync(url);

        var (leaderHeaders, leaderFailed) = await leader.WaitAsync(TimeSpan.FromSeconds(15));
        var (followerHeaders, followerFailed) = await follower.WaitAsync(TimeSpan.FromSeconds(15));
        var elapsed = clock.Elapsed;
        release.Cancel();
        Assert.True(leaderHeaders, "the leader got the origin's headers");
        Assert.True(leaderFailed, "the leader's body must be cut off, not completed");
        Assert.True(followerHeaders, $"a follower must get headers, not be left waiting without them: {LastError}");
        Assert.True(followerFailed, "the follower's body must be cut off too");
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"both gave up after {elapsed.TotalSeconds:F1} s (idle timeout 1 s)");
    }

    private string? LastError;

    /// <summary>Did headers arrive, and did reading the body fail?</summary>
    private async Task<(bool Headers, bool Failed)> ReadAllAsync(string url)
    {
        HttpResponseMessage response;
        try { response = await env.Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead); }
        catch (Exception ex) { LastError = ex.ToString(); return (false, true); }
        using (response)
        {
            try
            {
                await response.Content.ReadAsByteArrayAsync();
                return (true, false);
            }
            catch (Exception) { return (true, true); }
        }
    }
}
