using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Proxy.Responses;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Proxy.Responses;

/// <summary>
/// Hits are sent from the stored chunks themselves (<see cref="LendingMemoryPool"/>): clients that read whole
/// bodies and clients that reset the connection mid-body, side by side on the same entries, and every whole body
/// is the origin's, byte for byte, before and after (a lent chunk written into would show as a wrong body).
/// </summary>
public class LentChunkTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    [Fact]
    public async Task The_node_sends_through_the_lending_pool()
    {
        await using var node = await TestNode.StartAsync();
        var factory = node.Services.GetRequiredService<IMemoryPoolFactory<byte>>();
        using var pool = factory.Create();
        Assert.IsType<LendingMemoryPool>(pool);
    }

    [Theory]
    [InlineData("0", "owner")] // every hit reads its chunks from the owner
    [InlineData("64MiB", "hot-copy")] // hits from this node's hot copy
    public async Task Clients_that_reset_mid_body_never_change_what_whole_reads_get(string hotCacheSize, string servedBy)
    {
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Cache:HotCacheSize"] = hotCacheSize,
            ["Proxy:DebugHeaders"] = "true",
        });
        using var client = node.CreateClient(TimeSpan.FromSeconds(60));
        string[] paths = [NodeAndOrigin.Unique("/bytes/1m"), NodeAndOrigin.Unique("/bytes/300k")];
        var urls = paths.Select(p => _origin.Url(p)).ToArray();
        var expected = paths.Select(p => OriginContent.ExpectedSha256(p)).ToArray();

        for (int u = 0; u < urls.Length; u++)
        {
            for (int i = 0; i < 3; i++) await AssertWholeAsync(client, urls[u], expected[u]);
            using var hit = await client.GetAsync(urls[u]);
            Assert.Contains("hit", hit.CacheStatus());
            var owner = hit.Headers.GetValues("X-Cache-Owner").Single();
            Assert.Equal(servedBy == "hot-copy", owner == "hot-copy");
        }

        // 12 workers, 20 requests each: whole reads and resets mid-body, interleaved on the same two entries.
        int whole = 0, reset = 0;
        await Task.WhenAll(Enumerable.Range(0, 12).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (int i = 0; i < 20; i++)
            {
                int u = random.Next(urls.Length);
                if (random.Next(2) == 0)
                {
                    await AssertWholeAsync(client, urls[u], expected[u]);
                    Interlocked.Increment(ref whole);
                }
                else
                {
                    await ResetMidBodyAsync(node.ProxyPort, urls[u], random.Next(1, 250_000));
                    Interlocked.Increment(ref reset);
                }
            }
        })));
        Assert.True(whole > 50 && reset > 50, $"{whole} whole reads, {reset} resets");

        for (int u = 0; u < urls.Length; u++)
            for (int i = 0; i < 3; i++) await AssertWholeAsync(client, urls[u], expected[u]);
        Assert.Equal(2, _origin.RequestCount(paths[0]) + _origin.RequestCount(paths[1])); // all hits after the first fetch
    }

    private static async Task AssertWholeAsync(HttpClient client, Uri url, string sha256)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();
        var (length, sum) = await OriginContent.Sha256Async(body);
        Assert.Equal(OriginContent.SizeFromTarget(url.PathAndQuery), length);
        Assert.Equal(sha256, sum);
    }

    /// <summary>Asks for the body, reads about <paramref name="bytes"/> of it, then resets the connection (RST).</summary>
    private static async Task ResetMidBodyAsync(int port, Uri url, int bytes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {url} HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n"));
        var buffer = new byte[16 * 1024];
        int read = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (read < bytes)
        {
            int n = await socket.ReceiveAsync(buffer, cts.Token);
            if (n == 0) break;
            read += n;
        }
        socket.LingerState = new LingerOption(true, 0); // close sends RST: the node sees the connection reset mid-body
        socket.Close();
    }
}
