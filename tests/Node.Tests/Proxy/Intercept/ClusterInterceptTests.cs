using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

/// <summary>Interception across a cluster of two nodes: one leaf certificate per host, one cache under the https:// key.</summary>
public class ClusterInterceptTests
{
    /// <summary>Opens a bumped tunnel through <paramref name="node"/> and returns the certificate it presented and the response head.</summary>
    private static async Task<(X509Certificate2 Certificate, string Head)> GetThroughAsync(TestNode node, int originPort, string path, ProxyAuthority ca)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", node.ProxyPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT localhost:{originPort} HTTP/1.1\r\nHost: localhost:{originPort}\r\n\r\n"));
        Assert.StartsWith("HTTP/1.1 200", await RawExchange.ReadHeadAsync(stream));
        X509Certificate2? presented = null;
        await using var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, cert, chain, errors) =>
        {
            presented = X509CertificateLoader.LoadCertificate(cert!.GetRawCertData());
            using var own = new X509Chain();
            own.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            own.ChainPolicy.CustomTrustStore.Add(ca.Certificate);
            own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return own.Build(presented) && (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None;
        });
        await tls.AuthenticateAsClientAsync("localhost");
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost:{originPort}\r\nConnection: close\r\n\r\n"));
        var head = await RawExchange.ReadHeadAsync(tls);
        await tls.CopyToAsync(Stream.Null); // the whole response (Connection: close), so the fill behind it can finish
        return (presented!, head);
    }

    [Fact]
    public async Task Two_nodes_present_the_same_minted_certificate_and_share_the_https_entry()
    {
        await using var origins = await HttpsOrigins.StartAsync();
        var ca = new ProxyAuthority();
        await using var cluster = await LocalCluster.StartAsync(2, InterceptFixture.Settings(origins, ca, new() { ["Intercept:Bump"] = "localhost" }));
        await cluster.WaitForMembersAsync(2);

        var path = NodeAndOrigin.Unique("/shared");
        var (first, firstHead) = await GetThroughAsync(cluster.Nodes[0], origins.GoodPort, path, ca);
        // The first fill is published just after its last byte went out: until then the other node joins it (collapsed).
        var hit = new System.Text.RegularExpressions.Regex(@"(?im)^cache-status: CacheCluster; hit; ttl=\d+");
        var (second, secondHead) = await GetThroughAsync(cluster.Nodes[1], origins.GoodPort, path, ca);
        for (int i = 0; i < 20 && !hit.IsMatch(secondHead); i++)
        {
            Assert.Contains("collapsed", secondHead); // never a fetch of its own
            await Task.Delay(100);
            (second, secondHead) = await GetThroughAsync(cluster.Nodes[1], origins.GoodPort, path, ca);
        }

        Assert.Equal(first.Thumbprint, second.Thumbprint); // minted once for the cluster, by the host's grain
        Assert.Matches("(?im)^cache-status: CacheCluster; fwd=uri-miss; fwd-status=200; stored", firstHead);
        Assert.True(hit.IsMatch(secondHead), secondHead);
        Assert.Equal(1, origins.RequestCount(path));
    }

    [Fact]
    public async Task A_tunnel_that_does_not_speak_tls_is_spliced_byte_for_byte()
    {
        // A server-speaks-last line protocol behind CONNECT, with interception bumping everything.
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var peer = await listener.AcceptTcpClientAsync();
            var s = peer.GetStream();
            var buffer = new byte[64];
            int n = await s.ReadAsync(buffer);
            await s.WriteAsync(Encoding.ASCII.GetBytes("echo:" + Encoding.ASCII.GetString(buffer, 0, n)));
        });
        var ca = new ProxyAuthority();
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:ConnectPorts"] = port.ToString(),
            ["Intercept:Enabled"] = "true",
            ["Intercept:CaCertificatePath"] = ca.CertificatePath,
            ["Intercept:CaKeyPath"] = ca.KeyPath,
            ["Intercept:Bump"] = "*",
        });
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", node.ProxyPort);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\nHELLO plain bytes"));
        Assert.StartsWith("HTTP/1.1 200", await RawExchange.ReadHeadAsync(stream));
        var reply = new byte[64];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int got = await stream.ReadAsync(reply, cts.Token);
        Assert.Equal("echo:HELLO plain bytes", Encoding.ASCII.GetString(reply, 0, got));
        await serve;
    }
}
