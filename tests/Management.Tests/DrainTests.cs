using System.Net;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using Grpc.Net.Client;

namespace CacheCluster.Management.Tests;

/// <summary>Drain on a real node process: it answers, then leaves and exits cleanly.</summary>
public class DrainTests
{
    [Fact]
    public async Task A_drained_node_stops_gracefully()
    {
        var mgmtPort = Ports.Free();
        await using var node = await NodeProcess.StartAsync(TempDir.Create("drain"), Ports.Free(),
            [$"--Management:Listen=127.0.0.1:{mgmtPort}"]);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{mgmtPort}");
        var client = new CacheManagement.CacheManagementClient(channel);
        var status = await client.GetClusterStatusAsync(new ClusterStatusRequest());  // loopback only: no token needed
        var name = Assert.Single(status.Nodes).Name;

        var reply = await client.DrainAsync(new DrainRequest { Node = name });
        Assert.Equal(name, reply.Node);
        Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
    }
}
