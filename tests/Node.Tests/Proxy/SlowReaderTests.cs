using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// Issue 15 M5: clients that request a large hit and never read it. Each holds only a few chunks of the node's
/// memory (the hit path waits for the client before it reads on), and the minimum response data rate
/// (Limits:MinResponseRate; Kestrel allows a write size/rate seconds plus a 5 s grace) drops them, so nothing stays
/// pinned. The test raises the rate to 64 KiB/s so a stalled 64 KiB write times out in seconds, not a minute.
/// </summary>
public class SlowReaderTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static long RssBytes(int pid) =>
        File.ReadLines($"/proc/{pid}/status").Where(l => l.StartsWith("VmRSS:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024).Single();

    /// <summary>Established IPv4 connections from server port <paramref name="port"/> to one of <paramref name="clientPorts"/>.</summary>
    private static int EstablishedTo(int port, HashSet<int> clientPorts) =>
        File.ReadLines("/proc/net/tcp").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => f[3] == "01" && Convert.ToInt32(f[1].Split(':')[1], 16) == port && clientPorts.Contains(Convert.ToInt32(f[2].Split(':')[1], 16)));

    [Fact]
    public async Task Two_hundred_clients_that_never_read_a_large_hit_hold_bounded_memory_and_are_dropped()
    {
        const int clients = 200;
        var port = Ports.Free();
        await using var node = await NodeProcess.StartAsync(TempDir.Create("slow-readers"), port, ["--Limits:MinResponseRate=65536"]);
        var path = NodeAndOrigin.Unique("/bytes/20m");
        var url = _origin.Url(path);
        using (var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(60)))
        {
            (await client.GetAsync(url)).Dispose();
            using var hit = await client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
        }
        await Task.Delay(1000);
        long before = RssBytes(node.Pid);

        var sockets = new List<Socket>();
        var ports = new HashSet<int>();
        try
        {
            var request = Encoding.ASCII.GetBytes($"GET {url} HTTP/1.1\r\nHost: {url.Authority}\r\n\r\n");
            for (int i = 0; i < clients; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await s.ConnectAsync(IPAddress.Loopback, port);
                await s.SendAsync(request);
                sockets.Add(s);
                ports.Add(((IPEndPoint)s.LocalEndPoint!).Port);
            }
            await Task.Delay(3000); // every response has started and filled what it may buffer
            Assert.Equal(clients, EstablishedTo(port, ports));
            long grown = RssBytes(node.Pid) - before;
            // Whole bodies would be 200 x 20 MiB; a few 64 KiB chunks each is what the hit path may hold.
            Assert.True(grown < clients * (1L << 20), $"RSS grew by {grown >> 20} MiB for {clients} non-reading clients");

            // Dropped once their writes overrun size/rate + the 5 s grace (Kestrel checks once a second).
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (EstablishedTo(port, ports) > 0 && DateTime.UtcNow < deadline) await Task.Delay(250);
            Assert.Equal(0, EstablishedTo(port, ports));
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }

        // The node is fine afterwards.
        using var again = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(60));
        using var r = await again.GetAsync(url);
        Assert.Contains("hit", r.CacheStatus());
        Assert.Equal(20L << 20, (await r.Content.ReadAsByteArrayAsync()).LongLength);
    }
}
