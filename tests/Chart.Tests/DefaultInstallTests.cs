using CacheCluster.Chart.Tests.Support;
using CacheCluster.Node.Configuration;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests;

/// <summary>
/// `helm install` with no values: one node in Localhost mode (no database), accepted by the node's own settings
/// code, with a loud note on how to scale out; a database switches to AdoNet with three nodes and cluster TLS.
/// </summary>
public class DefaultInstallTests
{
    private const string Db = "Host=db.campus.example;Port=5432;Database=cachecluster;Username=cache;Password=pw";

    [Fact]
    public void With_no_values_one_localhost_node_renders_and_the_node_accepts_it()
    {
        var m = Helm.Template();
        var settings = RenderedNode.From(m).Load(out var management);
        Assert.Equal(ClusteringMode.Localhost, settings.Cluster.Mode);
        Assert.Equal("1", m.NodeStatefulSet.Path("spec").Str("replicas"));
        Assert.Equal(RenderedNode.SamplePodName, settings.NodeName);
        // The silo is on the pod's loopback: no cluster TLS material, nothing published for it.
        Assert.True(settings.Cluster.Tls.LoopbackOnly);
        Assert.False(settings.Cluster.Tls.Enabled);
        Assert.DoesNotContain(m.OfKind("Secret"), s => s.Path("metadata").Str("name")!.EndsWith("-cluster-tls", StringComparison.Ordinal));
        Assert.DoesNotContain(m.NodeContainer.Maps("ports"), p => p.Str("name") == "silo");
        Assert.False(m.Single("Service", "site-a-cachecluster-silo").Path("spec").Has("ports"));
        Assert.DoesNotContain(m.OfKind("Secret"), s => s.Path("metadata").Str("name") == "site-a-cachecluster-db");
        // Proxy and management are reachable in the pod, the management API with a generated token.
        Assert.All(settings.Proxy.Listen, ep => Assert.Equal("0.0.0.0", ep.Address.ToString()));
        Assert.Equal(32, File.ReadAllText(management["TokenFile"]).Length);
        Assert.Equal("/data", settings.Store.Directory);
        Assert.Single(m.NodeStatefulSet.Path("spec").Seq("volumeClaimTemplates"));
        // The node's own largest-object default (a quarter of the 10 GiB disk budget): a DVD-sized ISO is cached.
        Assert.Equal(10L << 30, settings.Store.DiskBudgetBytes);
        Assert.Equal((10L << 30) / 4, settings.Cache.MaxObjectBytes);
    }

    [Fact]
    public void Without_a_database_the_network_policy_covers_every_port_and_has_no_silo_rule()
    {
        var m = Helm.Template();
        var rules = m.Single("NetworkPolicy").Path("spec").Maps("ingress").ToList();
        var ruled = rules.SelectMany(r => r.Maps("ports").Select(p => p.Str("port")!)).Order().ToList();
        Assert.Equal(m.NodeContainer.Maps("ports").Select(p => p.Str("name")!).Order().ToList(), ruled);
        Assert.Equal(["management", "proxy"], ruled);
    }

    [Fact]
    public void The_install_notes_say_loudly_that_it_is_one_node_and_how_to_scale_out()
    {
        var (code, stdout, stderr) = Helm.Run("install", "site-a", Helm.ChartDir, "--namespace", "cache", "--dry-run=client");
        Assert.True(code == 0, stderr);
        var notes = stdout[stdout.IndexOf("NOTES:", StringComparison.Ordinal)..];
        Assert.Contains("1 node(s)", notes);
        Assert.Contains("(Localhost mode)", notes);
        Assert.Contains("*** SINGLE NODE", notes);
        Assert.Contains("--set database.existingSecret=", notes);
        Assert.Contains("--set postgresql.enabled=true", notes);
        Assert.Contains("helm test site-a -n cache", notes);

        var (code2, stdout2, _) = Helm.Run("install", "site-a", Helm.ChartDir, "--dry-run=client", "--set", "database.connectionString=" + Db);
        Assert.Equal(0, code2);
        Assert.DoesNotContain("SINGLE NODE", stdout2);
        Assert.Contains("3 node(s)", stdout2);
        Assert.Contains("(AdoNet mode)", stdout2);
    }

    [Theory]
    [InlineData("replicaCount=3")]
    [InlineData("autoscaling.enabled=true")]
    public void Several_nodes_without_a_database_are_refused_with_the_values_to_set(string set)
    {
        var (code, _, stderr) = Helm.Run("template", "x", Helm.ChartDir, "--set", set);
        Assert.NotEqual(0, code);
        Assert.Contains("cluster.mode=Localhost runs a single node (no database was given)", stderr);
        Assert.Contains("database.connectionString, database.existingSecret or postgresql.enabled=true", stderr);
    }

    [Fact]
    public void An_explicit_mode_is_kept_and_checked()
    {
        var (code, _, stderr) = Helm.Run("template", "x", Helm.ChartDir, "--set", "cluster.mode=AdoNet");
        Assert.NotEqual(0, code);
        Assert.Contains("cluster.mode=AdoNet needs PostgreSQL: set database.connectionString, database.existingSecret or postgresql.enabled=true", stderr);

        var (code2, _, stderr2) = Helm.Run("template", "x", Helm.ChartDir, "--set", "cluster.mode=Localhost", "--set", "postgresql.enabled=true");
        Assert.NotEqual(0, code2);
        Assert.Contains("the database would be unused", stderr2);

        // Localhost with a database given: the database is not mounted, one node runs.
        var m = Helm.Template("--set", "cluster.mode=Localhost", "--set", "database.connectionString=" + Db);
        Assert.Equal(ClusteringMode.Localhost, RenderedNode.From(m).Load(out _).Cluster.Mode);
        Assert.DoesNotContain(m.NodeContainer.Maps("volumeMounts"), v => v.Str("name") == "db");
    }

    [Fact]
    public void A_database_makes_three_adonet_nodes_with_cluster_tls()
    {
        var m = Helm.Template("--set", "database.connectionString=" + Db);
        var settings = RenderedNode.From(m).Load(out _);
        Assert.Equal(ClusteringMode.AdoNet, settings.Cluster.Mode);
        Assert.Equal("3", m.NodeStatefulSet.Path("spec").Str("replicas"));
        Assert.True(settings.Cluster.Tls.Enabled);
        Assert.Equal(RenderedNode.SamplePodIp, settings.Cluster.AdvertisedAddress.ToString());
        Assert.Contains(m.NodeContainer.Maps("ports"), p => p.Str("name") == "silo");

        var five = Helm.Template("--set", "database.connectionString=" + Db, "--set", "replicaCount=5");
        Assert.Equal("5", five.NodeStatefulSet.Path("spec").Str("replicas"));
    }

    [Theory]
    [InlineData("replicaCount=three", "/replicaCount")]
    [InlineData("cluster.mode=Cluster", "'Auto', 'AdoNet', 'Localhost'")]
    [InlineData("store.memoryBudgetMiB=0", "/store/memoryBudgetMiB")]
    [InlineData("proxy.port=70000", "/proxy/port")]
    [InlineData("replicas=3", "replicas")]
    [InlineData("access.rules=deny all", "/access/rules")]
    public void The_values_schema_refuses_a_wrong_value_on_template_and_lint(string set, string named)
    {
        var (code, _, stderr) = Helm.Run("template", "x", Helm.ChartDir, "--set", set);
        Assert.NotEqual(0, code);
        Assert.Contains(named, stderr);
        var (lintCode, lintOut, lintErr) = Helm.Run("lint", "--strict", Helm.ChartDir, "--set", set);
        Assert.NotEqual(0, lintCode);
        Assert.Contains("1 chart(s) failed", lintOut + lintErr);
    }

    [Fact]
    public void Every_default_value_is_described_by_the_schema()
    {
        // The schema forbids unknown keys at the top level and in its sections: values.yaml itself must pass it
        // (helm lint --strict with no values, above), and a misspelt key in the operator's values is refused.
        var values = new YamlStream();
        values.Load(new StringReader(File.ReadAllText(Path.Combine(Helm.ChartDir, "values.yaml"))));
        var schema = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Helm.ChartDir, "values.schema.json")));
        var described = schema.RootElement.GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var key in ((YamlMappingNode)values.Documents[0].RootNode).Children.Keys.Cast<YamlScalarNode>())
            Assert.Contains(key.Value!, described);
        Assert.False(schema.RootElement.GetProperty("additionalProperties").GetBoolean());
    }
}
