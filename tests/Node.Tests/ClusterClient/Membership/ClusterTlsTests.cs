using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace CacheCluster.Node.Tests.ClusterClient.Membership;

/// <summary>
/// The cluster's internal ports with mutual TLS (Cluster:Tls:*), on real silos: an Orleans client or silo
/// without a certificate from the cluster CA gets nothing; one with it works; the gateway is closed by default.
/// </summary>
public class ClusterTlsTests : IAsyncLifetime
{
    private OriginServer _origin = null!;
    private readonly TestCertificates _ca = TestCertificates.CreateAuthority();

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private Dictionary<string, string?> TlsNode(string name, bool gateway = false, int? gatewayPort = null)
    {
        var s = _ca.NodeSettings(name);
        if (gateway) s["Cluster:GatewayEnabled"] = "true";
        if (gatewayPort is int p) s["Cluster:GatewayPort"] = p.ToString();
        return s;
    }

    /// <summary>An Orleans client (what the red team used: LookupAsync, PublishAsync, … on any entry) against a gateway.</summary>
    private static async Task<IHost> StartClientAsync(TestNode node, int gatewayPort, Action<IClientBuilder>? tls)
    {
        var options = node.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ClusterOptions>>().Value;
        var host = new HostBuilder()
            .UseOrleansClient(c =>
            {
                c.UseLocalhostClustering(gatewayPort, options.ServiceId, options.ClusterId);
                c.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
                c.UseConnectionRetryFilter((_, _) => Task.FromResult(false)); // fail on the first refusal, do not retry
                tls?.Invoke(c);
            })
            .Build();
        try
        {
            await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    /// <summary>The attack from issue 15 (H1): look up an entry's owner grain and start writing it.</summary>
    private static async Task<bool> CanWriteEntry(IHost client)
    {
        var grains = client.Services.GetRequiredService<IClusterClient>();
        var key = $"http://example.test/{Guid.NewGuid():N}";
        var grain = grains.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key));
        var role = await grain.BeginFillAsync(key, 0).WaitAsync(TimeSpan.FromSeconds(10));
        return role.IsLeader;
    }

    [Fact]
    public async Task The_gateway_does_not_listen_unless_enabled()
    {
        var gatewayPort = Ports.Free();
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["Cluster:GatewayPort"] = gatewayPort.ToString() });
        using var tcp = new TcpClient();
        var ex = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(IPAddress.Loopback, gatewayPort));
        Assert.Equal(SocketError.ConnectionRefused, ex.SocketErrorCode);
        // A plain Orleans client therefore has nowhere to connect.
        await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(node, gatewayPort, tls: null));
    }

    [Fact]
    public async Task An_orleans_client_without_the_cluster_certificate_cannot_call_a_grain()
    {
        var gatewayPort = Ports.Free();
        await using var node = await TestNode.StartAsync(settings: TlsNode("node-a", gateway: true, gatewayPort: gatewayPort));

        // Plain TCP, as in the reproduction.
        await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(node, gatewayPort, tls: null));
        // TLS but no client certificate.
        await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(node, gatewayPort, c => c.UseTls(o =>
        {
            o.AllowAnyRemoteCertificate();
            o.RemoteCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate;
        })));
        // A certificate from another CA (self-made, or from any public CA: the system trust store is not asked).
        var stranger = TestCertificates.CreateAuthority("stranger-ca").Load("intruder");
        await Assert.ThrowsAsync<ConnectionFailedException>(() => StartClientAsync(node, gatewayPort, c => c.UseTls(stranger, o => o.AllowAnyRemoteCertificate())));

        // With a certificate from the cluster CA the same client works: the failures above are the certificate's.
        using var member = _ca.Load("gateway-client");
        using var client = await StartClientAsync(node, gatewayPort, c => c.UseTls(member, o => o.AllowAnyRemoteCertificate()));
        Assert.True(await CanWriteEntry(client));
    }

    [Fact]
    public async Task A_silo_without_the_cluster_certificate_cannot_join()
    {
        await using var cluster = await LocalCluster.StartAsync(1, TlsNode("node-a"));
        var primary = cluster.Nodes[0];
        var stranger = TestCertificates.CreateAuthority("stranger-ca");
        foreach (var (what, settings) in new (string, Dictionary<string, string?>)[]
                 {
                     ("no TLS", new()),
                     ("a certificate from another CA", stranger.NodeSettings("intruder")),
                 })
        {
            // The intruder either fails to start or runs alone; it never becomes a member of the primary's cluster.
            TestNode? intruder = null;
            var start = StartJoiningAsync(cluster, primary, settings);
            var finished = await Task.WhenAny(start, Task.Delay(TimeSpan.FromSeconds(10)));
            if (finished == start && start.IsCompletedSuccessfully) intruder = await start;
            var members = primary.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values;
            Assert.True(members.Count(m => m.Status == SiloStatus.Active) == 1, $"{what}: the primary lists {string.Join(", ", members.Select(m => $"{m.Name} {m.Status}"))}");
            if (intruder is not null) await intruder.DisposeAsync();
            else _ = DisposeWhenStartedAsync(start);
        }
    }

    /// <summary>An intruder still trying to start is stopped whenever its start gives up.</summary>
    private static async Task DisposeWhenStartedAsync(Task<TestNode> start)
    {
        try { await (await start).DisposeAsync(); }
        catch (Exception) { }
    }

    private static Task<TestNode> StartJoiningAsync(LocalCluster cluster, TestNode primary, Dictionary<string, string?> tls)
    {
        var options = primary.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ClusterOptions>>().Value;
        var settings = new Dictionary<string, string?>(tls)
        {
            ["Cluster:SiloPort"] = Ports.Free().ToString(),
            ["Cluster:PrimarySiloPort"] = primary.SiloPort.ToString(),
            ["Cluster:ClusterId"] = options.ClusterId,
            ["Cluster:ServiceId"] = options.ServiceId,
        };
        return TestNode.StartAsync(settings: settings);
    }

    [Fact]
    public async Task Nodes_with_certificates_from_the_cluster_ca_form_one_cache()
    {
        await using var cluster = await LocalCluster.StartAsync(2, TlsNode("member"));
        var path = NodeAndOrigin.Unique("/bytes/64k");
        using var first = cluster.Nodes[0].CreateClient();
        using var second = cluster.Nodes[1].CreateClient();
        using (var r = await first.GetAsync(_origin.Url(path)))
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Contains("fwd=uri-miss", r.CacheStatus());
        }
        Assert.Contains("hit", (await Clients.HitSoonAsync(second, _origin.Url(path), TimeSpan.FromSeconds(10)))[^1]);
        Assert.Equal(1, _origin.RequestCount(path));
    }
}
