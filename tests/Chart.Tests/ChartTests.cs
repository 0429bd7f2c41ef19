using System.Text.RegularExpressions;
using CacheCluster.Chart.Tests.Support;
using CacheCluster.Node.Configuration;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests;

/// <summary>
/// deploy/helm/cachecluster rendered by the real helm, checked against the code: the node's settings validation
/// accepts what the chart configures, and ports, probe paths and mounts agree with those settings.
/// </summary>
public class ChartTests
{
    private const string Db = "Host=db.campus.example;Port=5432;Database=cachecluster;Username=cache;Password=pw";
    private static readonly string[] WithDb = ["--set", "database.connectionString=" + Db];

    public static TheoryData<string> ValueSets => new() { "database-only", "two-site.yaml", "existing-secrets.yaml" };

    private static string[] Args(string set) => set == "database-only" ? WithDb : ["-f", Helm.ValuesFile(set)];

    private static Manifests Render(string set) => Helm.Template(Args(set));

    private static readonly Dictionary<string, string> ExistingSecrets = MakeExistingSecrets();

    private static Dictionary<string, string> MakeExistingSecrets()
    {
        // What cert-manager would put in the operator's Secret: a CA and a certificate it signed.
        var ca = CacheCluster.Tests.Support.TestCertificates.CreateAuthority("campus-ca");
        var (cert, key) = ca.Issue("campus-node");
        return new()
        {
            ["campus-db/npgsql"] = Db,
            ["campus-management/api-token"] = "from-an-existing-secret",
            ["campus-cluster-tls/ca.crt"] = File.ReadAllText(ca.CaPath),
            ["campus-cluster-tls/tls.crt"] = File.ReadAllText(cert),
            ["campus-cluster-tls/tls.key"] = File.ReadAllText(key),
        };
    }

    [Theory]
    [InlineData()]
    [InlineData("--set", "database.connectionString=Host=db;Database=c;Username=u;Password=p")]
    [InlineData("-f", "two-site.yaml")]
    [InlineData("-f", "existing-secrets.yaml")]
    public void Helm_lint_strict_passes(params string[] args)
    {
        if (args.Length == 2 && args[0] == "-f") args = ["-f", Helm.ValuesFile(args[1])];
        var (code, stdout, stderr) = Helm.Run(["lint", "--strict", Helm.ChartDir, .. args]);
        Assert.True(code == 0, $"helm lint --strict {string.Join(' ', args)}:\n{stdout}\n{stderr}");
        Assert.Contains("0 chart(s) failed", stdout);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void The_node_accepts_the_rendered_settings(string set)
    {
        var m = Render(set);
        var settings = RenderedNode.From(m, ExistingSecrets).Load(out var management);
        Assert.Equal(RenderedNode.SamplePodName, settings.NodeName);
        Assert.Equal(RenderedNode.SamplePodIp, settings.Cluster.AdvertisedAddress.ToString());
        Assert.Equal(ClusteringMode.AdoNet, settings.Cluster.Mode);
        Assert.NotNull(settings.Cluster.ConnectionString);
        Assert.Equal("/data", settings.Store.Directory);
        Assert.True(management.ContainsKey("Listen"));
        // Inside a pod the proxy and management listen on every address of the pod.
        Assert.All(settings.Proxy.Listen, ep => Assert.Equal("0.0.0.0", ep.Address.ToString()));
        Assert.StartsWith("0.0.0.0:", management["Listen"]);
    }

    [Theory]
    [MemberData(nameof(ValueSets))]
    public void Ports_services_and_probes_agree_with_the_settings(string set)
    {
        var m = Render(set);
        var settings = RenderedNode.From(m, ExistingSecrets).Load(out var management);
        var container = m.NodeContainer;
        var ports = container.Maps("ports").ToDictionary(p => p.Str("name")!, p => int.Parse(p.Str("containerPort")!));
        var managementPort = int.Parse(management["Listen"].Split(':')[1]);

        Assert.Equal(settings.Proxy.Listen.Single().Port, ports["proxy"]);
        Assert.Equal(managementPort, ports["management"]);
        Assert.Equal(settings.Cluster.SiloPort, ports["silo"]);
        // The Orleans gateway is off unless asked for (nothing uses it): no container port, no Service port.
        Assert.False(settings.Cluster.GatewayEnabled);
        Assert.False(ports.ContainsKey("gateway"));

        // Services route to the named container ports; the headless one carries silo traffic.
        var services = m.OfKind("Service").Where(s => s.Path("spec", "selector").Str("app.kubernetes.io/component") == "node").ToList();
        foreach (var svc in services)
            foreach (var p in svc.Path("spec").Maps("ports"))
                Assert.True(ports.ContainsKey(p.Str("targetPort")!), $"Service {svc.Path("metadata").Str("name")} targets unknown port {p.Str("targetPort")}");
        var headless = services.Single(s => s.Path("spec").Str("clusterIP") == "None");
        Assert.Equal("true", headless.Path("spec").Str("publishNotReadyAddresses"));
        Assert.Equal(headless.Path("metadata").Str("name"), m.NodeStatefulSet.Path("spec").Str("serviceName"));
        Assert.Contains(services, s => s.Path("spec").Maps("ports").Any(p => p.Str("targetPort") == "proxy"));
        Assert.Contains(services, s => s.Path("spec").Maps("ports").Any(p => p.Str("targetPort") == "management"));

        // Probes: the management port's health endpoints (ready = joined the cluster and recovered the store).
        Assert.Equal("/healthz/ready", container.Path("readinessProbe", "httpGet").Str("path"));
        Assert.Equal("/healthz/live", container.Path("livenessProbe", "httpGet").Str("path"));
        Assert.Equal("/healthz/live", container.Path("startupProbe", "httpGet").Str("path"));
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
            Assert.Equal("management", container.Path(probe, "httpGet").Str("port"));

        var annotations = m.NodeStatefulSet.Path("spec", "template", "metadata", "annotations");
        if (set == "existing-secrets.yaml") Assert.False(annotations.Has("prometheus.io/scrape"));
        else
        {
            Assert.Equal("true", annotations.Str("prometheus.io/scrape"));
            Assert.Equal(managementPort.ToString(), annotations.Str("prometheus.io/port"));
            Assert.Equal("/metrics", annotations.Str("prometheus.io/path"));
        }
    }

    [Theory]
    [InlineData("database-only", 256, 64, 10)]
    [InlineData("two-site.yaml", 1024, 128, 50)]
    public void Memory_and_volume_follow_the_configured_budgets(string set, int memoryMiB, int hotMiB, int diskGiB)
    {
        var m = Render(set);
        var settings = RenderedNode.From(m, ExistingSecrets).Load(out _);
        Assert.Equal((long)memoryMiB << 20, settings.Store.MemoryBudgetBytes);
        Assert.Equal((long)hotMiB << 20, settings.Cache.HotCacheBytes);
        Assert.Equal((long)diskGiB << 30, settings.Store.DiskBudgetBytes);

        var resources = m.NodeContainer.Path("resources");
        var expected = $"{memoryMiB + hotMiB + 512}Mi"; // budget + hot copies + the chart's default overhead
        Assert.Equal(expected, resources.Path("requests").Str("memory"));
        Assert.Equal(expected, resources.Path("limits").Str("memory"));

        var claim = m.NodeStatefulSet.Path("spec").Seq("volumeClaimTemplates").Cast<YamlMappingNode>().Single();
        Assert.Equal("data", claim.Path("metadata").Str("name"));
        Assert.Equal($"{diskGiB + 1}Gi", claim.Path("spec", "resources", "requests").Str("storage"));
        var dataMount = m.NodeContainer.Maps("volumeMounts").Single(v => v.Str("name") == "data");
        Assert.Equal(settings.Store.Directory, dataMount.Str("mountPath"));
    }

    [Fact]
    public void Pod_runs_as_the_images_non_root_user_and_drains_before_it_is_killed()
    {
        var m = Render("database-only");
        var pod = m.NodeStatefulSet.Path("spec", "template", "spec");
        // The Dockerfile's USER and data volume must be what the chart assumes.
        var dockerfile = File.ReadAllText(Path.Combine(Helm.RepoRoot, "Dockerfile"));
        var user = Regex.Match(dockerfile, @"^USER\s+(\d+)\s*$", RegexOptions.Multiline).Groups[1].Value;
        Assert.Equal(user, pod.Path("securityContext").Str("runAsUser"));
        Assert.Equal("true", pod.Path("securityContext").Str("runAsNonRoot"));
        Assert.Contains("VOLUME /data", dockerfile);
        Assert.Contains("Store__Directory=/data", dockerfile);
        var container = m.NodeContainer.Path("securityContext");
        Assert.Equal("false", container.Str("allowPrivilegeEscalation"));
        Assert.Equal("true", container.Str("readOnlyRootFilesystem"));
        Assert.True(int.Parse(pod.Str("terminationGracePeriodSeconds")!) >= 30);
        Assert.Equal("5", m.NodeContainer.Path("lifecycle", "preStop", "sleep").Str("seconds"));
        Assert.Equal("Parallel", m.NodeStatefulSet.Path("spec").Str("podManagementPolicy"));
        var spread = pod.Maps("topologySpreadConstraints").Select(c => c.Str("topologyKey")).ToList();
        Assert.Contains("topology.kubernetes.io/zone", spread);
        Assert.Equal("1", m.Single("PodDisruptionBudget").Path("spec").Str("maxUnavailable"));
        Assert.Empty(m.OfKind("HorizontalPodAutoscaler"));
    }

    [Fact]
    public void Dev_postgresql_and_autoscaling_are_wired_to_the_nodes()
    {
        var m = Render("two-site.yaml");
        var settings = RenderedNode.From(m).Load(out var management);
        // The connection string the nodes read names the chart's PostgreSQL Service and the password it was started with.
        var pgService = m.Single("Service", "site-b-postgresql");
        Assert.Contains($"Host={pgService.Path("metadata").Str("name")};Port={pgService.Path("spec").Maps("ports").Single().Str("port")};", settings.Cluster.ConnectionString);
        Assert.Contains("Password=dev-password", settings.Cluster.ConnectionString);
        var pgEnv = m.Single("StatefulSet", "site-b-postgresql").Path("spec", "template", "spec").Seq("containers").Cast<YamlMappingNode>().Single()
            .Maps("env").Single(e => e.Str("name") == "POSTGRES_PASSWORD").Path("valueFrom", "secretKeyRef");
        Assert.Equal("dev-password", m.Single("Secret", pgEnv.Str("name")).Path("stringData").Str(pgEnv.Str("key")!));
        Assert.Equal("s3cret-token-0123456789", File.ReadAllText(management["TokenFile"]));

        var hpa = m.Single("HorizontalPodAutoscaler");
        Assert.Equal("StatefulSet", hpa.Path("spec", "scaleTargetRef").Str("kind"));
        Assert.Equal(m.NodeStatefulSet.Path("metadata").Str("name"), hpa.Path("spec", "scaleTargetRef").Str("name"));
        Assert.False(m.NodeStatefulSet.Path("spec").Has("replicas")); // the HPA owns the count

        Assert.Equal("campus-b", settings.Cluster.ClusterId);
        Assert.Equal("site-b", settings.Proxy.ViaName);
        Assert.Equal(TimeSpan.FromSeconds(30), settings.Proxy.OriginTimeout);
        Assert.Equal(1L << 30, settings.Cache.MaxObjectBytes);
        Assert.Single(settings.Cache.RefreshRules);
        Assert.Equal(["proxy.site-b.campus.example:3128", "proxy.site-a.campus.example:3128"], settings.Pac.Proxies);
        Assert.Equal(["campus.example", "intranet.example"], settings.Pac.BypassDomains);
        Assert.Equal(2, settings.Pac.BypassNetworks.Count);
        Assert.Equal("LoadBalancer", m.Single("Service", "site-b").Path("spec").Str("type"));
        Assert.Equal("proxy.site-a.campus.example:3128", settings.Upstream.Parents.Single().Name);
        Assert.Equal(["campus.example"], settings.Upstream.AlwaysDirectDomains);
        Assert.Single(settings.Upstream.AlwaysDirectNetworks);
        Assert.False(settings.Upstream.DirectFallback);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.Upstream.HealthCheckInterval);
    }

    [Fact]
    public void A_setting_the_node_does_not_know_is_caught_before_deployment()
    {
        // The check has teeth: a misspelt key passed through `config` is refused by the node's validation.
        var m = Helm.Template([.. WithDb, "--set", "config.Proxy:OriginTimout=5s"]);
        var ex = Assert.Throws<NodeConfigurationException>(() => RenderedNode.From(m).Load(out _));
        Assert.Contains(ex.Errors, e => e.StartsWith("Proxy:OriginTimout: unknown setting", StringComparison.Ordinal));

        var bad = Helm.Template([.. WithDb, "--set", "store.memoryBudgetMiB=1"]);
        var ex2 = Assert.Throws<NodeConfigurationException>(() => RenderedNode.From(bad).Load(out _));
        Assert.Contains(ex2.Errors, e => e.StartsWith("Store:MemoryBudget:", StringComparison.Ordinal));
    }
}
