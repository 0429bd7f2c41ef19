using System.Diagnostics;
using System.Net;
using CacheCluster.Cluster.Tests.Support;
using CacheCluster.TestOrigin;
using Xunit.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// AdoNet nodes with mutual TLS (Cluster:Tls:*) on a real PostgreSQL: nodes with certificates from the cluster CA
/// form one cache; a node that can write the membership table but holds no such certificate never becomes Active.
/// </summary>
[Collection(PostgresCollection.Name)]
public class ClusterTlsTests(PostgresFixture pg, ITestOutputHelper output) : IAsyncLifetime
{
    private OriginServer _origin = null!;
    private readonly List<NodeProcess> _nodes = [];
    private readonly TestCertificates _ca = TestCertificates.CreateAuthority();

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var n in _nodes) await n.DisposeAsync();
        await _origin.DisposeAsync();
    }

    private NodeProcess StartNode(string name, string cs, string clusterId, IEnumerable<KeyValuePair<string, string?>> tls)
    {
        var ports = Ports.Free(2);
        var node = NodeProcess.Start(name, ports[0], ports[1],
        [
            "--Cluster:Mode=AdoNet",
            $"--Cluster:ConnectionString={cs}",
            $"--Cluster:ClusterId={clusterId}",
            $"--Cluster:SiloPort={ports[1]}",
            $"--Proxy:Listen=127.0.0.1:{ports[0]}",
            $"--Store:Directory={TempDir.Create(name)}",
            $"--Node:Name={name}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:CacheCluster=Information",
            "--Cluster:ProbeTimeout=1s", "--Cluster:MissedProbesLimit=2", "--Cluster:TableRefreshTimeout=2s",
            .. tls.Select(kv => $"--{kv.Key}={kv.Value}"),
        ]);
        _nodes.Add(node);
        return node;
    }

    [Fact]
    public async Task Only_nodes_with_the_cluster_certificate_join()
    {
        var cs = await pg.CreateDatabaseAsync("clustertls");
        var clusterId = $"tls-{Guid.NewGuid():N}"[..16];
        var members = new[] { StartNode("tls1", cs, clusterId, _ca.NodeSettings("tls1")), StartNode("tls2", cs, clusterId, _ca.NodeSettings("tls2")) };
        await Task.WhenAll(members.Select(n => n.WaitReadyAsync(TimeSpan.FromSeconds(45))));
        await WaitForAsync(cs, clusterId, rows => rows.Count(r => r.Status == MemberRow.Active) == 2, "two Active silos");
        foreach (var n in members) await n.WaitForOutputAsync("Cluster TLS on", TimeSpan.FromSeconds(15));

        // One cache over TLS: stored through one node, a hit through the other. Right after both joined, a node may
        // not reach the other's silo yet (its lookup fails over to an uncached fetch): a fresh URL is tried again then.
        string path = "", status = "";
        var until = DateTime.UtcNow.AddSeconds(20);
        using (var c = Clients.ViaProxy(members[0].ProxyUri))
        {
            do
            {
                path = $"/bytes/10k?t={Guid.NewGuid():N}";
                using var r = await c.GetAsync(_origin.Url(path));
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                status = r.CacheStatus();
                if (!status.Contains("stored")) { output.WriteLine($"not stored yet: {status}"); await Task.Delay(500); }
            } while (!status.Contains("stored") && DateTime.UtcNow < until);
        }
        Assert.Contains("stored", status);
        using (var c = Clients.ViaProxy(members[1].ProxyUri))
            Assert.Contains("hit", (await Clients.HitSoonAsync(c, _origin.Url(path), TimeSpan.FromSeconds(10)))[^1]);
        Assert.Equal(1, _origin.RequestCount(path));

        // Intruders reach the database and the silo ports, but not with a certificate from the cluster CA.
        var stranger = TestCertificates.CreateAuthority("stranger-ca").NodeSettings("intruder2");
        var intruders = new[] { StartNode("intruder1", cs, clusterId, []), StartNode("intruder2", cs, clusterId, stranger) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(45) && !intruders.All(i => i.HasExited)) await Task.Delay(250);
        var rows = await Membership.ReadAsync(cs, clusterId);
        output.WriteLine($"after {clock.ElapsedMilliseconds} ms: {string.Join("; ", rows)}; intruders exited: {string.Join(", ", intruders.Select(i => i.HasExited))}");
        Assert.DoesNotContain(rows, r => r.SiloName.StartsWith("intruder", StringComparison.Ordinal) && r.Status == MemberRow.Active);
        Assert.Equal(2, rows.Count(r => r.Status == MemberRow.Active));
        Assert.True(members.All(m => !m.HasExited));
        Assert.Contains(members, m => m.Output.Contains("Refused a cluster connection"));
    }

    private static async Task WaitForAsync(string cs, string clusterId, Func<List<MemberRow>, bool> done, string what)
    {
        List<MemberRow> rows = [];
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(45)) // generous: two cores shared with other test runs
        {
            rows = await Membership.ReadAsync(cs, clusterId);
            if (done(rows)) return;
            await Task.Delay(100);
        }
        Assert.Fail($"{what} not seen within {clock.Elapsed.TotalSeconds:0} s; membership: {string.Join("; ", rows)}");
    }
}
