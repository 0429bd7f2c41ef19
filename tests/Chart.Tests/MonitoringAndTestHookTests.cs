using CacheCluster.Chart.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests;

/// <summary>The optional ServiceMonitor scrapes the management Service's /metrics; `helm test` fetches through the proxy Service.</summary>
public class MonitoringAndTestHookTests
{
    [Fact]
    public void The_service_monitor_is_off_by_default_and_scrapes_the_management_service_when_on()
    {
        Assert.Empty(Helm.Template().OfKind("ServiceMonitor"));

        var m = Helm.Template("--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.serviceMonitor.labels.release=kube-prometheus");
        var monitor = m.Single("ServiceMonitor");
        Assert.Equal("monitoring.coreos.com/v1", monitor.Str("apiVersion"));
        Assert.Equal("kube-prometheus", monitor.Path("metadata", "labels").Str("release"));
        Assert.Equal(["cache"], monitor.Path("spec", "namespaceSelector").Seq("matchNames").Cast<YamlScalarNode>().Select(n => n.Value));

        // The selector matches exactly one Service: the management one, which has the port the endpoint names.
        var selector = monitor.Path("spec", "selector", "matchLabels").ScalarMap();
        var selected = m.OfKind("Service").Where(s => selector.All(kv => s.Path("metadata", "labels").Str(kv.Key) == kv.Value)).ToList();
        var service = Assert.Single(selected);
        Assert.Equal("site-a-cachecluster-management", service.Path("metadata").Str("name"));
        var endpoint = monitor.Path("spec").Maps("endpoints").Single();
        Assert.Contains(service.Path("spec").Maps("ports"), p => p.Str("name") == endpoint.Str("port"));
        Assert.Equal("/metrics", endpoint.Str("path"));
        Assert.Equal("http", endpoint.Str("scheme"));
        Assert.False(endpoint.Has("bearerTokenSecret")); // /metrics needs no token (only the gRPC API does)

        var tls = Helm.Template("--set", "metrics.serviceMonitor.enabled=true", "--set", "management.tls.existingSecret=campus-management-tls");
        var tlsEndpoint = tls.Single("ServiceMonitor").Path("spec").Maps("endpoints").Single();
        Assert.Equal("https", tlsEndpoint.Str("scheme"));
        Assert.Equal("true", tlsEndpoint.Path("tlsConfig").Str("insecureSkipVerify"));
    }

    private static YamlMappingNode TestPod(Manifests m)
    {
        var pod = m.OfKind("Pod").Single(p => p.Path("metadata", "annotations").Str("helm.sh/hook") == "test");
        Assert.Equal("Never", pod.Path("spec").Str("restartPolicy"));
        return pod;
    }

    private static string Script(YamlMappingNode pod) =>
        ((YamlScalarNode)pod.Path("spec").Seq("containers").Cast<YamlMappingNode>().Single().Seq("args")[0]).Value!;

    [Fact]
    public void The_helm_test_hook_fetches_the_pac_file_and_an_object_through_the_proxy_service()
    {
        var m = Helm.Template();
        var pod = TestPod(m);
        var container = pod.Path("spec").Seq("containers").Cast<YamlMappingNode>().Single();
        var proxy = container.Maps("env").Single(e => e.Str("name") == "PROXY").Str("value");
        var service = m.Single("Service", "site-a-cachecluster");
        Assert.Equal($"site-a-cachecluster.cache.svc:{service.Path("spec").Maps("ports").Single().Str("port")}", proxy);
        var script = Script(pod);
        Assert.Contains("wget -q -O \"$WORKDIR/proxy.pac\" \"http://$PROXY/proxy.pac\"", script);
        Assert.Contains("grep -q FindProxyForURL", script);
        Assert.Contains("export http_proxy=\"http://$creds$PROXY\"", script);
        Assert.Contains("grep -qi \"^ *via:\"", script); // answered by the proxy, not directly
        Assert.Equal("true", container.Path("securityContext").Str("readOnlyRootFilesystem"));
        // Replaced on every run, removed once it passed.
        Assert.Contains("hook-succeeded", pod.Path("metadata", "annotations").Str("helm.sh/hook-delete-policy"));
    }

    [Fact]
    public void With_proxy_auth_the_helm_test_expects_407_or_uses_the_given_credentials()
    {
        var withAuth = Script(TestPod(Helm.Template("--set", "auth.existingSecret=users")));
        Assert.Contains("grep -q \" 407\"", withAuth);

        var m = Helm.Template("--set", "auth.existingSecret=users", "--set", "tests.credentialsSecret=proxy-test-user");
        var env = TestPod(m).Path("spec").Seq("containers").Cast<YamlMappingNode>().Single().Maps("env").ToDictionary(e => e.Str("name")!);
        Assert.Equal("proxy-test-user", env["PROXY_USER"].Path("valueFrom", "secretKeyRef").Str("name"));
        Assert.DoesNotContain("\" 407\"", Script(TestPod(m)));
    }
}
