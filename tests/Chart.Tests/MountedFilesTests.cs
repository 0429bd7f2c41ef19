using System.Net;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Chart.Tests.Support;
using CacheCluster.Node.FrontEnd.Auth;
using CacheCluster.Node.Policy;
using Microsoft.Extensions.Logging.Abstractions;

namespace CacheCluster.Chart.Tests;

/// <summary>
/// The files proxy auth, access rules and management TLS need, given as values (inline or existing Secrets and
/// ConfigMaps): mounted read-only at the documented paths, named by the rendered settings, and accepted by the
/// node's own code (the htpasswd file verifies a password, a dstdomain="file" rule denies a listed domain).
/// </summary>
public class MountedFilesTests
{
    private static readonly string AliceHash = BCrypt.Net.BCrypt.HashPassword("alice-password", 5).Replace("$2a$", "$2y$"); // as htpasswd -B writes

    private static Dictionary<string, YamlDotNet.RepresentationModel.YamlMappingNode> Mounts(Manifests m) =>
        m.NodeContainer.Maps("volumeMounts").ToDictionary(v => v.Str("mountPath")!);

    [Fact]
    public async Task An_inline_htpasswd_file_is_mounted_and_the_node_verifies_its_users()
    {
        var m = Helm.TemplateYaml($"""
            auth:
              htpasswd: |
                alice:{AliceHash}
              realm: Campus proxy
              groups:
                staff: alice,bob
            """);
        var node = RenderedNode.From(m);
        var settings = node.Load(out _);
        Assert.Equal("true", Mounts(m)["/etc/cachecluster/auth"].Str("readOnly"));
        Assert.Equal(node.Root + "/etc/cachecluster/auth/htpasswd", settings.Policy.Auth.HtpasswdFile);
        Assert.True(settings.Policy.Auth.Required);
        Assert.Equal("Campus proxy", settings.Policy.Auth.Realm);
        Assert.Equal(["alice", "bob"], settings.Policy.Auth.Groups["staff"].Order());
        var users = new HtpasswdFile(settings.Policy.Auth.HtpasswdFile!, NullLogger.Instance);
        Assert.True(await users.VerifyAsync("alice", "alice-password"));
        Assert.False(await users.VerifyAsync("alice", "wrong"));
        Assert.Single(m.OfKind("Secret"), s => s.Path("metadata").Str("name") == "site-a-cachecluster-auth");
    }

    [Fact]
    public async Task An_htpasswd_file_from_an_existing_secret_is_mounted_from_that_secret()
    {
        var m = Helm.Template("--set", "auth.existingSecret=campus-proxy-users", "--set", "auth.existingSecretKey=users", "--set", "auth.required=false");
        Assert.DoesNotContain(m.OfKind("Secret"), s => s.Path("metadata").Str("name") == "site-a-cachecluster-auth");
        var node = RenderedNode.From(m, new Dictionary<string, string> { ["campus-proxy-users/users"] = $"alice:{AliceHash}\n" });
        var settings = node.Load(out _);
        Assert.False(settings.Policy.Auth.Required);
        Assert.True(await new HtpasswdFile(settings.Policy.Auth.HtpasswdFile!, NullLogger.Instance).VerifyAsync("alice", "alice-password"));
        // A whole-directory mount (no subPath): kubelet updates the file in place and the node re-reads it.
        Assert.False(Mounts(m)["/etc/cachecluster/auth"].Has("subPath"));

        var (code, _, stderr) = Helm.Run("template", "x", Helm.ChartDir, "--set", "auth.existingSecret=a", "--set", "auth.htpasswd=alice:x");
        Assert.NotEqual(0, code);
        Assert.Contains("auth.htpasswd and auth.existingSecret are alternatives", stderr);
    }

    private const string ListsYaml = """
        access:
          rules:
            - 'deny name=blocked dstdomain="/etc/cachecluster/lists/blocked.txt"'
            - "allow name=campus src=10.0.0.0/8"
            - "deny name=rest all"
          lists:
            blocked.txt: |
              # games
              .games.example
              casino.example
        """;

    [Fact]
    public void Inline_list_files_are_mounted_where_the_rules_name_them_and_the_rules_deny_what_they_list()
    {
        var m = Helm.TemplateYaml(ListsYaml);
        var node = RenderedNode.From(m);
        var settings = node.Load(out _);
        Assert.Equal("true", Mounts(m)["/etc/cachecluster/lists"].Str("readOnly"));
        Assert.Contains("/etc/cachecluster/lists/blocked.txt", node.Files.Keys);
        Assert.Equal(3, settings.Policy.AccessRules.Count);
        Assert.Equal(node.Root + "/etc/cachecluster/lists", settings.Policy.ListDirectory);

        var rules = AccessRuleSet.Compile(settings.Policy.AccessRules, 1, settings.Policy.ResolvePath, out var errors);
        Assert.Empty(errors);
        AccessDecision Ask(string host) => rules!.Evaluate(new AccessRequest(IPAddress.Parse("10.1.1.1"), host, 80, "GET", $"http://{host}/", null, null, DateTime.Now));
        Assert.Equal(("blocked", false), (Ask("www.games.example").RuleName, Ask("www.games.example").Allowed));
        Assert.Equal(("campus", true), (Ask("www.example.org").RuleName, Ask("www.example.org").Allowed));
    }

    [Fact]
    public void A_rule_naming_a_list_file_nobody_mounts_is_caught_before_deployment()
    {
        var m = Helm.TemplateYaml(ListsYaml.Replace("lists/blocked.txt\"", "lists/blocked-typo.txt\""));
        var ex = Assert.Throws<CacheCluster.Node.Configuration.NodeConfigurationException>(() => RenderedNode.From(m).Load(out _));
        Assert.Contains(ex.Errors, e => e.StartsWith("Access:Rules:0", StringComparison.Ordinal) && e.Contains("blocked-typo.txt"));
    }

    [Fact]
    public void List_files_from_an_existing_config_map_are_all_mounted()
    {
        var m = Helm.Template("--set", "access.existingConfigMap=campus-lists", "--set", "access.rules[0]=deny dstdomain=\"/etc/cachecluster/lists/ads.txt\"",
            "--set", "access.rules[1]=allow all");
        Assert.DoesNotContain(m.OfKind("ConfigMap"), c => c.Path("metadata").Str("name") == "site-a-cachecluster-lists");
        var node = RenderedNode.From(m, new Dictionary<string, string> { ["campus-lists/ads.txt"] = ".ads.example\n", ["campus-lists/other.txt"] = "x.example\n" });
        var settings = node.Load(out _);
        Assert.Equal(["/etc/cachecluster/lists/ads.txt", "/etc/cachecluster/lists/other.txt"], node.Files.Keys.Where(k => k.Contains("/lists/")).Order());
        Assert.Equal(2, settings.Policy.AccessRules.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Management_tls_is_mounted_and_probes_and_scrapes_use_https(bool existingSecret)
    {
        var ca = CacheCluster.Tests.Support.TestCertificates.CreateAuthority("campus-ca");
        var (certPath, keyPath) = ca.Issue("management");
        var m = existingSecret
            ? Helm.Template("--set", "management.tls.existingSecret=campus-management-tls")
            : Helm.TemplateYaml($"""
                management:
                  tls:
                    certificate: {System.Text.Json.JsonSerializer.Serialize(File.ReadAllText(certPath))}
                    key: {System.Text.Json.JsonSerializer.Serialize(File.ReadAllText(keyPath))}
                """);
        var node = RenderedNode.From(m, new Dictionary<string, string>
        {
            ["campus-management-tls/tls.crt"] = File.ReadAllText(certPath), ["campus-management-tls/tls.key"] = File.ReadAllText(keyPath),
        });
        var settings = node.Load(out _);
        Assert.Equal(node.Root + "/etc/cachecluster/management-tls/tls.crt", settings.Management.TlsCertificatePath);
        using var loaded = X509Certificate2.CreateFromPemFile(settings.Management.TlsCertificatePath!, settings.Management.TlsKeyPath!);
        Assert.True(loaded.HasPrivateKey);
        Assert.Equal("true", Mounts(m)["/etc/cachecluster/management-tls"].Str("readOnly"));
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
            Assert.Equal("HTTPS", m.NodeContainer.Path(probe, "httpGet").Str("scheme"));
        Assert.Equal("https", m.NodeStatefulSet.Path("spec", "template", "metadata", "annotations").Str("prometheus.io/scheme"));
        Assert.Equal(existingSecret ? "campus-management-tls" : "site-a-cachecluster-management-tls",
            m.NodeStatefulSet.Path("spec", "template", "spec").Maps("volumes").Single(v => v.Str("name") == "management-tls").Path("secret").Str("secretName"));
    }

    [Fact]
    public void Extra_volumes_mounts_and_environment_reach_the_node()
    {
        // A hosts file from the operator's ConfigMap, named by a node setting given through extraEnv.
        var m = Helm.TemplateYaml("""
            extraVolumes:
              - name: hosts
                configMap: {name: campus-hosts}
              - name: scratch
                emptyDir: {}
            extraVolumeMounts:
              - name: hosts
                mountPath: /etc/cachecluster/hosts
                readOnly: true
              - name: scratch
                mountPath: /scratch
            extraEnv:
              - name: Resolver__HostsFile
                value: /etc/cachecluster/hosts/hosts
            """);
        var pod = m.NodeStatefulSet.Path("spec", "template", "spec");
        Assert.Contains(pod.Maps("volumes"), v => v.Str("name") == "scratch" && v.Has("emptyDir"));
        Assert.Equal("/scratch", Mounts(m)["/scratch"].Str("mountPath"));
        var node = RenderedNode.From(m, new Dictionary<string, string> { ["campus-hosts/hosts"] = "10.9.9.9 intranet.campus.example\n" });
        var settings = node.Load(out _);
        Assert.Equal(node.Root + "/etc/cachecluster/hosts/hosts", settings.Policy.Guard.HostsFile);
    }
}
