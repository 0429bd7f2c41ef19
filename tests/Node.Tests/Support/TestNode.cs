using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Support;

/// <summary>A real node (silo + FASTER store + Kestrel proxy) started in this process on loopback ports.</summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private TestNode(WebApplication app, Uri proxyUri, string dataDir)
    {
        _app = app;
        ProxyUri = proxyUri;
        DataDir = dataDir;
    }

    public Uri ProxyUri { get; }
    public string DataDir { get; }
    public int ProxyPort => ProxyUri.Port;

    public static async Task<TestNode> StartAsync(string? dataDir = null, IDictionary<string, string?>? settings = null)
    {
        dataDir ??= TempDir.Create("node");
        var siloPort = settings?.TryGetValue("Cluster:SiloPort", out var sp) == true && sp is not null ? int.Parse(sp) : Ports.Free();
        var args = new List<string>
        {
            "--Proxy:Listen=127.0.0.1:0",
            "--Management:Listen=127.0.0.1:0",
            $"--Store:Directory={dataDir}",
            $"--Cluster:SiloPort={siloPort}",
            $"--Cluster:GatewayPort={Ports.Free()}",
            $"--Cluster:ClusterId=test-{Guid.NewGuid():N}",
            $"--Node:Name=test-node-{siloPort}",
            "--Proxy:ViaName=test-node",
            "--Logging:LogLevel:Default=Warning",
        };
        var app = NodeHost.Build([.. args], cfg =>
        {
            if (settings is not null) cfg.AddInMemoryCollection(settings);
        });
        await app.StartAsync();
        var proxy = NodeHost.ProxyAddresses(app).First();
        return new TestNode(app, new Uri($"http://127.0.0.1:{proxy.Port}/"), dataDir) { SiloPort = siloPort };
    }

    public int SiloPort { get; private init; }

    /// <summary>The node's services (grain factory, store, …) for tests that look inside.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>An HttpClient that sends every request through this node as its HTTP proxy.</summary>
    public HttpClient CreateClient(TimeSpan? timeout = null) => Clients.ViaProxy(ProxyUri, timeout);

    /// <summary>Graceful stop: the store checkpoints before the node exits.</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
