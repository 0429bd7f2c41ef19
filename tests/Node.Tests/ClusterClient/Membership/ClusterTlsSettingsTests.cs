using CacheCluster.Node.Configuration;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.ClusterClient.Membership;

/// <summary>Cluster:Tls:* and Cluster:GatewayEnabled are checked at start-up; each problem names its key.</summary>
public class ClusterTlsSettingsTests
{
    private readonly TestCertificates _ca = TestCertificates.CreateAuthority();

    private static NodeSettings Load(IDictionary<string, string?> values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), "/tmp");

    private static string[] Errors(IDictionary<string, string?> values) =>
        [.. Assert.Throws<NodeConfigurationException>(() => Load(values)).Errors];

    /// <summary>AdoNet on a network address: the case where the silo port is reachable from other hosts.</summary>
    private static Dictionary<string, string?> OnNetwork(IDictionary<string, string?>? more = null)
    {
        var d = new Dictionary<string, string?>
        {
            ["Cluster:Mode"] = "AdoNet",
            ["Cluster:ConnectionString"] = "Host=db.test;Database=cache;Username=cache;Password=secret",
            ["Cluster:AdvertisedAddress"] = "10.199.0.5",
        };
        foreach (var (k, v) in more ?? new Dictionary<string, string?>()) d[k] = v;
        return d;
    }

    [Fact]
    public void The_embedded_default_needs_no_certificates_and_opens_no_gateway()
    {
        var s = Load(new Dictionary<string, string?>());
        Assert.False(s.Cluster.Tls.Enabled);
        Assert.True(s.Cluster.Tls.LoopbackOnly);
        Assert.False(s.Cluster.GatewayEnabled);
        Assert.Equal(0, CacheCluster.Node.Hosting.ClusterPorts.GatewayPort(s.Cluster));
    }

    [Fact]
    public void A_loopback_adonet_node_needs_no_certificates()
    {
        var s = Load(OnNetwork(new Dictionary<string, string?> { ["Cluster:AdvertisedAddress"] = "127.0.0.1" }));
        Assert.False(s.Cluster.Tls.Enabled);
    }

    [Fact]
    public void A_network_address_without_certificates_is_refused_unless_tls_is_explicitly_off()
    {
        var errors = Errors(OnNetwork());
        Assert.Contains(errors, e => e.StartsWith("Cluster:Tls:CertificatePath: the silo listens on 10.199.0.5", StringComparison.Ordinal) && e.Contains("Cluster:Tls:Mode=Off"));

        var insecure = Load(OnNetwork(new Dictionary<string, string?> { ["Cluster:Tls:Mode"] = "Off" }));
        Assert.False(insecure.Cluster.Tls.Enabled);
        Assert.False(insecure.Cluster.Tls.LoopbackOnly);
    }

    [Fact]
    public void Certificates_from_the_cluster_ca_turn_tls_on()
    {
        var s = Load(OnNetwork(_ca.NodeSettings("node-0")));
        Assert.True(s.Cluster.Tls.Enabled);
        Assert.Equal("CN=node-0", s.Cluster.Tls.Certificate!.Subject);
        Assert.True(s.Cluster.Tls.Certificate.HasPrivateKey);
    }

    [Fact]
    public void Mode_on_without_certificates_names_the_keys()
    {
        var errors = Errors(new Dictionary<string, string?> { ["Cluster:Tls:Mode"] = "On" });
        Assert.Contains(errors, e => e.StartsWith("Cluster:Tls:CertificatePath: Cluster:Tls:Mode=On needs", StringComparison.Ordinal));
    }

    [Fact]
    public void Mode_off_with_certificates_is_contradictory()
    {
        var settings = _ca.NodeSettings("node-0");
        settings["Cluster:Tls:Mode"] = "Off";
        Assert.Contains(Errors(settings), e => e.StartsWith("Cluster:Tls:Mode: is Off but certificates are configured", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_key_or_file_is_named()
    {
        var settings = _ca.NodeSettings("node-0");
        settings.Remove("Cluster:Tls:CaPath");
        Assert.Contains(Errors(settings), e => e.StartsWith("Cluster:Tls:CaPath: mutual TLS needs", StringComparison.Ordinal));

        settings = _ca.NodeSettings("node-0");
        settings["Cluster:Tls:KeyPath"] = "/nonexistent/node.key";
        Assert.Contains(Errors(settings), e => e == "Cluster:Tls:KeyPath: the file '/nonexistent/node.key' does not exist");
    }

    [Fact]
    public void A_certificate_from_another_ca_is_refused_at_start_up()
    {
        var settings = TestCertificates.CreateAuthority("other-ca").NodeSettings("node-0");
        settings["Cluster:Tls:CaPath"] = _ca.CaPath;
        Assert.Contains(Errors(settings), e => e.StartsWith("Cluster:Tls:CertificatePath: the certificate 'CN=node-0' does not chain to the CA in Cluster:Tls:CaPath", StringComparison.Ordinal));
    }

    [Fact]
    public void A_key_that_does_not_match_the_certificate_is_refused()
    {
        var settings = _ca.NodeSettings("node-0");
        settings["Cluster:Tls:KeyPath"] = _ca.Issue("node-1").KeyPath;
        Assert.Contains(Errors(settings), e => e.StartsWith("Cluster:Tls:CertificatePath: cannot load", StringComparison.Ordinal));
    }

    [Fact]
    public void Files_that_are_not_pem_are_refused()
    {
        var settings = _ca.NodeSettings("node-0");
        var junk = Path.Combine(_ca.Directory, "junk.pem");
        File.WriteAllText(junk, "not a certificate");
        settings["Cluster:Tls:CaPath"] = junk;
        Assert.Contains(Errors(settings), e => e.StartsWith("Cluster:Tls:CaPath: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_tls_keys_are_refused()
    {
        Assert.Contains(Errors(new Dictionary<string, string?> { ["Cluster:Tls:CertPath"] = "x" }), e => e.StartsWith("Cluster:Tls:CertPath: unknown setting", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_node_process_says_whether_cluster_tls_is_on()
    {
        await using var off = await NodeProcess.StartAsync(TempDir.Create("tls-off"), Ports.Free());
        await WaitForAsync(() => off.Output.Contains("Cluster TLS off"), off);
        Assert.Contains("gateway off, loopback only", off.Output);

        var tls = _ca.NodeSettings("node-0");
        await using var on = await NodeProcess.StartAsync(TempDir.Create("tls-on"), Ports.Free(), [.. tls.Select(kv => $"--{kv.Key}={kv.Value}")]);
        await WaitForAsync(() => on.Output.Contains("Cluster TLS on"), on);
        Assert.Contains("certificate 'CN=node-0'", on.Output);

        await using var refused = await NodeProcess.StartAsync(TempDir.Create("tls-refused"), Ports.Free(),
            [.. OnNetwork().Select(kv => $"--{kv.Key}={kv.Value}")], waitReady: false);
        Assert.Equal(2, await refused.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Cluster:Tls:CertificatePath: the silo listens on 10.199.0.5", refused.Output);
    }

    private static async Task WaitForAsync(Func<bool> condition, NodeProcess node)
    {
        for (int i = 0; i < 200 && !condition(); i++) await Task.Delay(100);
        Assert.True(condition(), node.Output);
    }
}
