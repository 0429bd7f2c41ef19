using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Runtime;

namespace CacheCluster.Node.Tests.Support;

/// <summary>
/// Several real nodes in this process forming one cluster (localhost membership hosted by the first node):
/// each has its own Kestrel proxy port, silo and FASTER store.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly string _clusterId = $"test-{Guid.NewGuid():N}";
    private readonly IDictionary<string, string?>? _extra;

    private LocalCluster(IDictionary<string, string?>? extra) => _extra = extra;

    public List<TestNode> Nodes { get; } = [];

    public static async Task<LocalCluster> StartAsync(int nodes, IDictionary<string, string?>? settings = null)
    {
        var cluster = new LocalCluster(settings);
        for (int i = 0; i < nodes; i++) await cluster.AddNodeAsync();
        await cluster.WaitForMembersAsync(nodes);
        return cluster;
    }

    public async Task<TestNode> AddNodeAsync(string? dataDir = null)
    {
        var siloPort = Ports.Free();
        var settings = new Dictionary<string, string?>(_extra ?? new Dictionary<string, string?>())
        {
            ["Cluster:SiloPort"] = siloPort.ToString(),
            ["Cluster:PrimarySiloPort"] = (Nodes.Count == 0 ? siloPort : Nodes[0].SiloPort).ToString(),
            ["Cluster:ClusterId"] = _clusterId,
            ["Cluster:ServiceId"] = _clusterId,
        };
        var node = await TestNode.StartAsync(dataDir, settings);
        Nodes.Add(node);
        return node;
    }

    /// <summary>Waits until every node sees <paramref name="count"/> active silos.</summary>
    public async Task WaitForMembersAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            // Active in membership, and known to every node's grain manifest (placement only uses those).
            if (Nodes.All(n => n.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
                    .Count(m => m.Status == SiloStatus.Active) == count
                    && n.Services.GetRequiredService<IClusterManifestProvider>().Current.Silos.Count == count))
                return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"The cluster did not reach {count} active members");
    }

    public async ValueTask DisposeAsync()
    {
        // Secondaries first: the first node hosts the membership.
        for (int i = Nodes.Count - 1; i >= 0; i--) await Nodes[i].DisposeAsync();
    }
}
