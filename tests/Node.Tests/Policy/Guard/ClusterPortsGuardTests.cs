using System.Net;
using CacheCluster.Node.Management;
using CacheCluster.Node.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Policy.Guard;

/// <summary>The other nodes' silo and management ports are refused through the proxy like the node's own (issue 15, M3).</summary>
public class ClusterPortsGuardTests
{
    [Fact]
    public async Task Another_node_s_silo_and_management_ports_are_refused()
    {
        await using var cluster = await LocalCluster.StartAsync(2);
        var other = cluster.Nodes[1];
        var management = other.Services.GetRequiredService<ManagementAddresses>().EndPoints.Single().Port;
        using var client = cluster.Nodes[0].CreateClient(TimeSpan.FromSeconds(10));

        // Known from membership at once.
        using (var silo = await client.GetAsync($"http://127.0.0.1:{other.SiloPort}/"))
        {
            var body = await silo.Content.ReadAsStringAsync();
            Assert.True(silo.StatusCode == HttpStatusCode.Forbidden, $"{silo.StatusCode} {body}");
            Assert.Contains("it is a listener of cluster node", body);
        }

        // Learnt from the node itself within seconds of its join (bounded wait: 30 s, for a loaded CI machine).
        HttpStatusCode status = 0;
        string text = "";
        for (int i = 0; i < 150 && status != HttpStatusCode.Forbidden; i++)
        {
            using var r = await client.GetAsync($"http://127.0.0.1:{management}/healthz/live");
            (status, text) = (r.StatusCode, await r.Content.ReadAsStringAsync());
            if (status != HttpStatusCode.Forbidden) await Task.Delay(200);
        }
        Assert.True(status == HttpStatusCode.Forbidden, $"{status} {text}");
        Assert.Contains("it is a listener of cluster node", text);
    }
}
