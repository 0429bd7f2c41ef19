using System.Security.Cryptography.X509Certificates;
using CacheCluster.Chart.Tests.Support;
using CacheCluster.Node.Configuration;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests;

/// <summary>
/// The chart closes the cluster's internal ports: mutual TLS material (generated CA and node certificate, or an
/// existing Secret) mounted where Cluster:Tls:* points, the gateway off, and a NetworkPolicy that admits only the
/// release's pods to the silo port.
/// </summary>
public class ClusterSecurityTests
{
    private const string Db = "Host=db.campus.example;Port=5432;Database=cachecluster;Username=cache;Password=pw";
    private static readonly string[] WithDb = ["--set", "database.connectionString=" + Db];

    [Fact]
    public void By_default_nodes_get_a_generated_cluster_ca_and_mutual_tls()
    {
        var m = Helm.Template(WithDb);
        var settings = RenderedNode.From(m).Load(out _); // the node's own validation: files load, key matches, chain to the CA
        Assert.True(settings.Cluster.Tls.Enabled);
        Assert.Equal(ClusterTlsMode.On, settings.Cluster.Tls.Mode);
        Assert.False(settings.Cluster.Tls.LoopbackOnly); // the pod IP: exactly the case TLS is for

        var secret = m.Single("Secret", "site-a-cachecluster-cluster-tls").Path("stringData").ScalarMap();
        var ca = X509Certificate2.CreateFromPem(secret["ca.crt"]);
        var node = X509Certificate2.CreateFromPem(secret["tls.crt"]);
        Assert.Equal(ca.Subject, node.Issuer);
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        // Orleans checks the usages of each side's certificate: helm's genSignedCert gives server and client auth.
        var usages = node.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToList();
        Assert.Contains("1.3.6.1.5.5.7.3.1", usages);
        Assert.Contains("1.3.6.1.5.5.7.3.2", usages);
        Assert.True(node.NotAfter > DateTime.Now.AddYears(5));
        Assert.Null(CacheCluster.Node.ClusterClient.Membership.ClusterCertificates.ChainProblem(node, [ca]));
    }

    [Fact]
    public void An_existing_secret_replaces_the_generated_one()
    {
        var m = Helm.Template([.. WithDb, "--set", "cluster.tls.existingSecret=campus-cluster-tls"]);
        Assert.DoesNotContain(m.OfKind("Secret"), s => s.Path("metadata").Str("name")!.EndsWith("-cluster-tls", StringComparison.Ordinal));
        var volume = m.NodeStatefulSet.Path("spec", "template", "spec").Maps("volumes").Single(v => v.Str("name") == "cluster-tls");
        Assert.Equal("campus-cluster-tls", volume.Path("secret").Str("secretName"));
        Assert.Equal(["ca.crt", "tls.crt", "tls.key"], volume.Path("secret").Maps("items").Select(i => i.Str("key")!).ToArray());
    }

    [Fact]
    public void Turning_cluster_tls_off_is_an_explicit_insecure_mode()
    {
        var m = Helm.Template([.. WithDb, "--set", "cluster.tls.enabled=false"]);
        var settings = RenderedNode.From(m).Load(out _);
        Assert.False(settings.Cluster.Tls.Enabled);
        Assert.Equal(ClusterTlsMode.Off, settings.Cluster.Tls.Mode); // the node warns at every start
        Assert.DoesNotContain(m.OfKind("Secret"), s => s.Path("metadata").Str("name")!.EndsWith("-cluster-tls", StringComparison.Ordinal));
        Assert.DoesNotContain(m.NodeContainer.Maps("volumeMounts"), v => v.Str("name") == "cluster-tls");
    }

    [Fact]
    public void Without_the_chart_s_tls_keys_the_node_refuses_its_pod_address()
    {
        // The check has teeth: the same rendering minus the TLS keys is refused by the node (silo on the pod IP, no TLS).
        var m = Helm.Template(WithDb);
        var node = RenderedNode.From(m);
        foreach (var key in node.Env.Keys.Where(k => k.StartsWith("Cluster__Tls__", StringComparison.Ordinal)).ToList()) node.Env.Remove(key);
        var ex = Assert.Throws<NodeConfigurationException>(() => node.Load(out _));
        Assert.Contains(ex.Errors, e => e.StartsWith($"Cluster:Tls:CertificatePath: the silo listens on {RenderedNode.SamplePodIp}", StringComparison.Ordinal));
    }

    [Fact]
    public void The_network_policy_admits_only_the_release_s_pods_to_the_silo_port()
    {
        var m = Helm.Template(WithDb);
        var policy = m.Single("NetworkPolicy");
        var selector = m.NodeStatefulSet.Path("spec", "selector", "matchLabels").ScalarMap();
        Assert.Equal(selector, policy.Path("spec", "podSelector", "matchLabels").ScalarMap());
        Assert.Equal(["Ingress"], policy.Path("spec").Seq("policyTypes").Cast<YamlScalarNode>().Select(n => n.Value!).ToArray());
        var rules = policy.Path("spec").Maps("ingress").ToList();

        // Every container port is covered by exactly one rule (anything not listed is dropped by the policy).
        var containerPorts = m.NodeContainer.Maps("ports").Select(p => p.Str("name")!).ToHashSet();
        var ruled = rules.SelectMany(r => r.Maps("ports").Select(p => p.Str("port")!)).ToList();
        Assert.Equal(containerPorts.Order(), ruled.Order());

        var silo = rules.Single(r => r.Maps("ports").Any(p => p.Str("port") == "silo"));
        var from = silo.Maps("from").Single();
        Assert.Equal(selector, from.Path("podSelector", "matchLabels").ScalarMap());
        Assert.False(from.Has("namespaceSelector")); // same namespace only
        Assert.False(from.Has("ipBlock"));

        // Proxy and management: open by default (as before), narrowed by networkPolicy.proxyFrom / managementFrom.
        Assert.False(rules.Single(r => r.Maps("ports").Any(p => p.Str("port") == "proxy")).Has("from"));
        var narrowed = Helm.Template([.. WithDb, "--set", "networkPolicy.managementFrom[0].ipBlock.cidr=10.20.0.0/16"]);
        var mgmt = narrowed.Single("NetworkPolicy").Path("spec").Maps("ingress").Single(r => r.Maps("ports").Any(p => p.Str("port") == "management"));
        Assert.Equal("10.20.0.0/16", mgmt.Maps("from").Single().Path("ipBlock").Str("cidr"));

        Assert.Empty(Helm.Template([.. WithDb, "--set", "networkPolicy.enabled=false"]).OfKind("NetworkPolicy"));
    }

    [Fact]
    public void An_enabled_gateway_is_published_and_still_closed_to_strangers()
    {
        var m = Helm.Template([.. WithDb, "--set", "cluster.gatewayEnabled=true", "--set", "cluster.gatewayPort=40000"]);
        var settings = RenderedNode.From(m).Load(out _);
        Assert.True(settings.Cluster.GatewayEnabled);
        Assert.Equal(40000, settings.Cluster.GatewayPort);
        Assert.Contains(m.NodeContainer.Maps("ports"), p => p.Str("name") == "gateway" && p.Str("containerPort") == "40000");
        var rule = m.Single("NetworkPolicy").Path("spec").Maps("ingress").Single(r => r.Maps("ports").Any(p => p.Str("port") == "gateway"));
        Assert.Contains(rule.Maps("ports"), p => p.Str("port") == "silo"); // the release's pods only, like the silo port
    }
}
