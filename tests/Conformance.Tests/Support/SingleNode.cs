using CacheCluster.TestOrigin;

namespace CacheCluster.Conformance.Tests.Support;

/// <summary>One node in forward-proxy mode and one scripted origin, shared by the cases of a test class.</summary>
public sealed class SingleNode : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:OriginTimeout"] = "10s",
        });
        Client = ProxyClients.Via(Node.ProxyUri);
    }

    public Task RunAsync(ConformanceCase c) => CaseRunner.RunAsync(c, Origin, Client);

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }
}
