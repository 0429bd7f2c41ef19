using CacheCluster.Management.V1;
using CacheCluster.Node.Management;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Management.Tests.Support;

/// <summary>
/// Three real nodes in this process forming one cluster, each with its proxy port and its management port
/// (token required), plus a test origin, shared by the tests of a class. Reverse-proxy sites site-a.test and
/// site-b.test point at the origin (purge by host).
/// </summary>
public sealed class ManagedCluster : IAsyncLifetime
{
    public const string Token = "test-token-0123456789abcdef";

    public LocalCluster Cluster { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    private readonly List<GrpcChannel> _channels = [];

    public IReadOnlyList<TestNode> Nodes => Cluster.Nodes;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        Cluster = await LocalCluster.StartAsync(3, new Dictionary<string, string?>
        {
            ["Management:Token"] = Token,
            ["Proxy:Sites:site-a.test"] = Origin.HttpBase.ToString(),
            ["Proxy:Sites:site-b.test"] = Origin.HttpBase.ToString(),
        });
    }

    public async Task DisposeAsync()
    {
        foreach (var c in _channels) c.Dispose();
        await Cluster.DisposeAsync();
        await Origin.DisposeAsync();
    }

    public static Uri ManagementUri(TestNode node) => node.Services.GetRequiredService<ManagementAddresses>().Uris[0];

    public static string NodeName(TestNode node) => node.Services.GetRequiredService<CacheCluster.Node.Configuration.NodeSettings>().NodeName;

    /// <summary>A real gRPC client (HTTP/2 cleartext) to node <paramref name="index"/>'s management port.</summary>
    public CacheManagement.CacheManagementClient Client(int index)
    {
        var channel = GrpcChannel.ForAddress(ManagementUri(Nodes[index]));
        _channels.Add(channel);
        return new CacheManagement.CacheManagementClient(channel);
    }

    public GrpcChannel Channel(int index)
    {
        var channel = GrpcChannel.ForAddress(ManagementUri(Nodes[index]));
        _channels.Add(channel);
        return channel;
    }

    public static Metadata Auth => new() { { "authorization", "Bearer " + Token } };

    public static CallOptions Call => new(Auth, DateTime.UtcNow.AddSeconds(60));

    /// <summary>A GET through node <paramref name="index"/> as a forward proxy.</summary>
    public async Task<(string CacheStatus, int Status, byte[] Body)> GetAsync(int index, Uri url, string? cacheControl = null)
    {
        using var client = Nodes[index].CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (cacheControl is not null) request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        using var r = await client.SendAsync(request);
        return (r.CacheStatus(), (int)r.StatusCode, await r.Content.ReadAsByteArrayAsync());
    }

    /// <summary>A GET through node <paramref name="index"/> as a reverse proxy for <paramref name="site"/> (site-a.test, site-b.test).</summary>
    public async Task<string> GetSiteAsync(int index, string site, string pathAndQuery, string? cacheControl = null)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Nodes[index].ProxyUri, pathAndQuery));
        request.Headers.Host = site;
        if (cacheControl is not null) request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        using var r = await client.SendAsync(request);
        await r.Content.ReadAsByteArrayAsync();
        return r.CacheStatus();
    }

    public static string Unique(string path) => path + (path.Contains('?') ? "&" : "?") + "t=" + Guid.NewGuid().ToString("N")[..12];
}
