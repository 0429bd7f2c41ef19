using CacheCluster.Node.Configuration;
using CacheCluster.Node.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>Proxy:HttpsListen and Proxy:Tls:* are checked at start-up; every problem names its key.</summary>
public class HttpsProxySettingsTests
{
    private static readonly TestCertificates Ca = TestCertificates.CreateAuthority("settings-ca");

    private static NodeSettings Load(params (string Key, string Value)[] values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build(), "/tmp");

    private static string ErrorOf(params (string Key, string Value)[] values) =>
        string.Join("\n", Assert.Throws<NodeConfigurationException>(() => Load(values)).Errors);

    [Fact]
    public void A_matching_pair_enables_the_listener()
    {
        var (cert, key) = Ca.Issue("good");
        var s = Load(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key));
        Assert.Equal("127.0.0.1:3130", s.Proxy.Https.Listen.Single().ToString());
        Assert.True(s.Proxy.Https.Http2);
        Assert.False(Load().Proxy.Https.Enabled);
    }

    [Fact]
    public void Missing_files_and_settings_are_named()
    {
        var (cert, key) = Ca.Issue("files");
        Assert.StartsWith("Proxy:Tls:KeyPath: the file '/tmp/nope.key' does not exist",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", "/tmp/nope.key")));
        Assert.StartsWith("Proxy:Tls:CertificatePath: the file '/tmp/nope.crt' does not exist",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", "/tmp/nope.crt"), ("Proxy:Tls:KeyPath", key)));
        Assert.StartsWith("Proxy:Tls:CertificatePath: Proxy:HttpsListen needs both",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:KeyPath", key)));
        Assert.StartsWith("Proxy:HttpsListen: Proxy:Tls:* is set but Proxy:HttpsListen is empty",
            ErrorOf(("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key)));
        Assert.StartsWith("Proxy:Tls:CertificatePath: the file", // a folder is not a certificate file
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", Ca.Directory), ("Proxy:Tls:KeyPath", key)));
    }

    [Fact]
    public void A_key_of_another_certificate_is_refused()
    {
        var (cert, _) = Ca.Issue("one");
        var (_, otherKey) = Ca.Issue("two");
        Assert.StartsWith($"Proxy:Tls:KeyPath: '{otherKey}' does not match the certificate in Proxy:Tls:CertificatePath",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", otherKey)));
        // The files swapped: the certificate file holds a key, the key file a certificate.
        var (c2, k2) = Ca.Issue("swapped");
        Assert.StartsWith("Proxy:Tls:CertificatePath: ",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", k2), ("Proxy:Tls:KeyPath", c2)));
    }

    [Fact]
    public void Ports_and_options_are_checked()
    {
        var (cert, key) = Ca.Issue("ports");
        Assert.Contains("Proxy:HttpsListen: port 3128 is also a plain proxy port",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3128"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key)));
        Assert.Contains("Proxy:HttpsListen: port 3129 is also a management port",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3129"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key)));
        Assert.Contains("Proxy:Tls:Protocols: unknown setting",
            ErrorOf(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key), ("Proxy:Tls:Protocols", "h3")));
        Assert.False(Load(("Proxy:HttpsListen", "127.0.0.1:3130"), ("Proxy:Tls:CertificatePath", cert), ("Proxy:Tls:KeyPath", key), ("Proxy:Tls:Http2", "false")).Proxy.Https.Http2);
    }

    [Fact]
    public void Pac_entries_written_as_https_urls_become_https_proxies()
    {
        var s = Load(("Pac:Proxies", "https://proxy.campus.test:3130, http://proxy.campus.test:3128"));
        Assert.Equal(["HTTPS proxy.campus.test:3130", "proxy.campus.test:3128"], s.Pac.Proxies);
        var script = CacheCluster.Node.FrontEnd.Pac.PacScript.Generate(s.Pac, s.Pac.Proxies, "n1");
        Assert.Contains("\"HTTPS proxy.campus.test:3130; PROXY proxy.campus.test:3128; DIRECT\"", script);
        Assert.StartsWith("Pac:Proxies: 'https://proxy.campus.test' is not host:port", ErrorOf(("Pac:Proxies", "https://proxy.campus.test")));
    }

    [Fact]
    public async Task A_node_with_a_mismatched_pair_stops_at_start_naming_the_key()
    {
        var (cert, _) = Ca.Issue("start-one");
        var (_, otherKey) = Ca.Issue("start-two");
        var (code, output) = await NodeProcess.RunToExitAsync(
            ["--Proxy:Listen=127.0.0.1:0", "--Management:Listen=127.0.0.1:0", $"--Store:Directory={TempDir.Create("node")}",
             $"--Proxy:HttpsListen=127.0.0.1:{Ports.Free()}", $"--Proxy:Tls:CertificatePath={cert}", $"--Proxy:Tls:KeyPath={otherKey}"],
            TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains($"Proxy:Tls:KeyPath: '{otherKey}' does not match the certificate", output);
        Assert.DoesNotContain("   at ", output);
    }
}
