using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Support;

/// <summary>One node and one origin shared by the tests of a class (each test uses its own URLs).</summary>
public sealed class NodeAndOrigin : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync(new OriginOptions { EnableHttps = true });
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            // The HTTPS origin listens on a random port: allow CONNECT to it (and keep 443).
            ["Proxy:ConnectPorts"] = $"443,{Origin.HttpsBase!.Port}",
            ["Proxy:OriginTimeout"] = "2s",
            ["Proxy:Sites:www.example.test"] = Origin.HttpBase.ToString(),
        });
        Client = Node.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }

    /// <summary>A URL path unique to the calling test, so tests sharing the node do not see each other's entries.</summary>
    public static string Unique(string path) =>
        path + (path.Contains('?') ? "&" : "?") + "t=" + Guid.NewGuid().ToString("N")[..12];
}
