using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using CacheCluster.Node.Tests.Support;
using Grpc.Net.Client;

namespace CacheCluster.Management.Tests;

/// <summary>A node that joins after a runtime policy change applies the same policy.</summary>
public class PolicySyncTests
{
    [Fact]
    public async Task A_joining_node_takes_over_the_runtime_policy()
    {
        await using var cluster = await LocalCluster.StartAsync(2);
        using var first = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(cluster.Nodes[0]));
        var rule = "-i \\.policy-sync$ 7 20% 70";
        await new CacheManagement.CacheManagementClient(first).SetPolicyAsync(
            new SetPolicyRequest { Policy = new Policy { RefreshRules = { rule } }, Sections = { "refresh_rules" } });

        var joined = await cluster.AddNodeAsync();
        await cluster.WaitForMembersAsync(3);
        using var channel = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(joined));
        var client = new CacheManagement.CacheManagementClient(channel);
        Policy policy = new();
        for (int i = 0; i < 100 && policy.RefreshRules.Count == 0; i++)
        {
            policy = await client.GetPolicyAsync(new GetPolicyRequest());
            if (policy.RefreshRules.Count == 0) await Task.Delay(200);
        }
        Assert.Equal([rule], policy.RefreshRules);
        Assert.Equal(1, policy.Version);
    }

    [Fact]
    public async Task A_restarted_node_keeps_the_runtime_policy()
    {
        var data = TempDir.Create("policy-keep");
        var rule = "-i \\.policy-keep$ 7 20% 70";
        long version;
        await using (var node = await TestNode.StartAsync(data))
        {
            using var channel = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(node));
            var reply = await new CacheManagement.CacheManagementClient(channel).SetPolicyAsync(
                new SetPolicyRequest { Policy = new Policy { RefreshRules = { rule } }, Sections = { "refresh_rules" } });
            version = reply.Policy.Version;
        }
        // The whole "cluster" (one node) restarts on its data folder: the change is still in force.
        await using (var again = await TestNode.StartAsync(data))
        {
            using var channel = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(again));
            var policy = await new CacheManagement.CacheManagementClient(channel).GetPolicyAsync(new GetPolicyRequest());
            Assert.Equal([rule], policy.RefreshRules);
            Assert.Equal(version, policy.Version);
        }
        // A fresh data folder starts from the configuration.
        await using var fresh = await TestNode.StartAsync(TempDir.Create("policy-fresh"));
        using var freshChannel = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(fresh));
        Assert.Empty((await new CacheManagement.CacheManagementClient(freshChannel).GetPolicyAsync(new GetPolicyRequest())).RefreshRules);
    }
}
