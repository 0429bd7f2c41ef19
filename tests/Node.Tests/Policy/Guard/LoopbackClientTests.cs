using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Policy.Guard;

/// <summary>
/// Safe defaults (issue 15, M3): a client that is not on the node's host cannot reach that host's loopback
/// through the proxy, whatever the spelling; a client on loopback still can (the local quick start). The client
/// "on the LAN" is curl in a private network namespace of our own, talking to the node over a veth pair.
/// </summary>
public sealed class LoopbackClientTests : IAsyncLifetime
{
    private OriginServer _origin = null!;
    private PrivateNetwork? _net;
    private string _why = "";

    public async Task InitializeAsync()
    {
        _origin = await OriginServer.StartAsync(); // on 127.0.0.1: a service only the proxy host can reach
        _net = PrivateNetwork.TryCreate(out _why);
    }

    public async Task DisposeAsync()
    {
        _net?.Dispose();
        await _origin.DisposeAsync();
    }

    private PrivateNetwork Net
    {
        get
        {
            Skip.If(_net is null, $"needs a private network namespace for a non-loopback client: {_why}");
            return _net!;
        }
    }

    /// <summary>A node listening on loopback and on our side of the veth link (what the namespace reaches).</summary>
    private async Task<(TestNode Node, Uri LanProxy)> StartNodeAsync(IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Proxy:Listen"] = $"127.0.0.1:0,{Net.HostAddress}:0",
            ["Proxy:ConnectPorts"] = $"443,{_origin.HttpBase.Port}",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string?>()) settings[k] = v;
        var node = await TestNode.StartAsync(settings: settings);
        var lan = node.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a)).Single(u => u.Host == Net.HostAddress.ToString());
        return (node, lan);
    }

    [SkippableFact]
    public async Task A_lan_client_cannot_reach_the_proxy_host_s_loopback_in_any_spelling()
    {
        var (node, lan) = await StartNodeAsync();
        await using var _ = node;
        var path = NodeAndOrigin.Unique("/bytes/1k");

        foreach (var url in new[]
                 {
                     $"http://127.0.0.1:{_origin.HttpBase.Port}{path}",
                     $"http://localhost:{_origin.HttpBase.Port}{path}",
                     $"http://127.1.2.3:{_origin.HttpBase.Port}{path}",
                     $"http://[::ffff:127.0.0.1]:{_origin.HttpBase.Port}{path}",
                 })
        {
            var (status, body) = Net.CurlViaProxy(lan, url);
            Assert.True(status == 403, $"{url}: {status} {body}");
            Assert.Contains("reachable only for clients on that host (Guard:AllowLoopback)", body);
        }

        // The decimal spelling, sent byte for byte (curl would normalise it).
        var raw = Net.Raw(new IPEndPoint(Net.HostAddress, lan.Port),
            $"GET http://2130706433:{_origin.HttpBase.Port}{path} HTTP/1.1\r\nHost: 2130706433:{_origin.HttpBase.Port}\r\nConnection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 403", raw);

        // CONNECT to a loopback port, even one CONNECT may use.
        var (connect, _) = Net.CurlViaProxy(lan, $"http://127.0.0.1:{_origin.HttpBase.Port}{path}", tunnel: true);
        Assert.Equal(403, connect);
        Assert.Equal(0, _origin.RequestCount(path));

        // The same node still serves its own host's clients (the README quick start), and the LAN client still
        // gets through to what it may reach: the refusals above are about the destination.
        using var local = node.CreateClient();
        using var r = await local.GetAsync($"http://127.0.0.1:{_origin.HttpBase.Port}{path}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(1, _origin.RequestCount(path));
    }

    [SkippableFact]
    public async Task A_lan_client_does_not_get_a_loopback_entry_a_local_client_cached()
    {
        var (node, lan) = await StartNodeAsync();
        await using var _ = node;
        var path = NodeAndOrigin.Unique("/bytes/2k");
        using var local = node.CreateClient();
        using (var first = await local.GetAsync($"http://127.0.0.1:{_origin.HttpBase.Port}{path}"))
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using (var second = await local.GetAsync($"http://127.0.0.1:{_origin.HttpBase.Port}{path}"))
            Assert.Contains("hit", second.CacheStatus());

        var (status, body) = Net.CurlViaProxy(lan, $"http://127.0.0.1:{_origin.HttpBase.Port}{path}");
        Assert.True(status == 403, $"{status} {body}");
    }

    [SkippableFact]
    public async Task A_name_that_resolves_to_loopback_is_refused_at_connect_time()
    {
        // Resolver:HostsFile stands in for an attacker's DNS name pointing at 127.0.0.1.
        var hosts = Path.Combine(TempDir.Create("hosts"), "hosts");
        File.WriteAllText(hosts, "127.0.0.1 inside.example.test\n");
        var (node, lan) = await StartNodeAsync(new Dictionary<string, string?> { ["Resolver:HostsFile"] = hosts });
        await using var _ = node;
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var url = $"http://inside.example.test:{_origin.HttpBase.Port}{path}";

        // The local client first, so a pooled upstream connection exists: it must not serve the LAN client.
        using var local = node.CreateClient();
        using (var r = await local.GetAsync(url)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var (status, body) = Net.CurlViaProxy(lan, url + "?again");
        Assert.True(status == 403, $"{status} {body}");
        Assert.Contains("resolves to 127.0.0.1, which is refused", body);
        Assert.Equal(0, _origin.RequestCount(path + "?again"));
    }

    [SkippableFact]
    public async Task Allow_loopback_all_restores_the_old_open_behaviour()
    {
        var (node, lan) = await StartNodeAsync(new Dictionary<string, string?> { ["Guard:AllowLoopback"] = "All" });
        await using var _ = node;
        var path = NodeAndOrigin.Unique("/bytes/1k");
        var (status, body) = Net.CurlViaProxy(lan, $"http://127.0.0.1:{_origin.HttpBase.Port}{path}");
        Assert.True(status == 200, $"{status} {body}");
    }
}
