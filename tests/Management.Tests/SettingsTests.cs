using CacheCluster.Node.Configuration;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Management.Tests;

/// <summary>Management and access-log settings are validated at start-up, each error naming its key.</summary>
public class SettingsTests
{
    private static NodeSettings Load(params (string Key, string Value)[] values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build(), Path.GetTempPath());

    private static string Error(params (string, string)[] values) =>
        Assert.Throws<NodeConfigurationException>(() => Load(values)).Message;

    [Fact]
    public void Defaults_are_loopback_3129_without_token_and_no_access_log()
    {
        var s = Load();
        Assert.Equal("127.0.0.1:3129", Assert.Single(s.Management.Listen).ToString());
        Assert.Null(s.Management.Token);
        Assert.Null(s.AccessLog.Path);
    }

    [Fact]
    public void A_non_loopback_listen_address_needs_a_token()
    {
        Assert.Contains("Management:Token: required because Management:Listen includes a non-loopback address (0.0.0.0:3129)",
            Error(("Management:Listen", "0.0.0.0:3129")));
        var ok = Load(("Management:Listen", "0.0.0.0:3129"), ("Management:Token", "0123456789abcdef0123"));
        Assert.Equal("0123456789abcdef0123", ok.Management.Token);
    }

    [Fact]
    public void The_token_may_come_from_a_file()
    {
        var file = Path.Combine(TempDir.Create("token"), "token");
        File.WriteAllText(file, "from-a-file-0123456789\n");
        Assert.Equal("from-a-file-0123456789", Load(("Management:TokenFile", file)).Management.Token);
        Assert.Contains("Management:TokenFile: cannot read", Error(("Management:TokenFile", file + ".missing")));
        Assert.Contains("set either Management:Token or Management:TokenFile", Error(("Management:TokenFile", file), ("Management:Token", "0123456789abcdef0123")));
        Assert.Contains("Management:Token: is too short", Error(("Management:Token", "short")));
    }

    [Fact]
    public void Management_never_shares_the_proxy_port_and_bad_values_name_their_key()
    {
        Assert.Contains("Management:Listen: port 3128 is also a proxy port", Error(("Management:Listen", "127.0.0.1:3128")));
        Assert.Contains("Management:Listen: 'nowhere' is not an address:port", Error(("Management:Listen", "nowhere")));
        Assert.Contains("Management:Tls:KeyPath: TLS needs both", Error(("Management:Tls:CertificatePath", "/etc/hostname")));
        Assert.Contains("Management:Colour: unknown setting", Error(("Management:Colour", "blue")));
        Assert.Contains("AccessLog:Format: 'xml' is not one of Squid, Common, Combined, Json", Error(("AccessLog:Format", "xml")));
        Assert.Contains("AccessLog:MaxSize", Error(("AccessLog:MaxSize", "tiny")));
        Assert.Contains("AccessLog:StripQuery", Error(("AccessLog:StripQuery", "maybe")));
    }
}
