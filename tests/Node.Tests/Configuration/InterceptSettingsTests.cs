using CacheCluster.Node.Configuration;
using CacheCluster.Node.Tests.Proxy.Intercept;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Configuration;

public class InterceptSettingsTests
{
    private static NodeSettings Load(Dictionary<string, string?> values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), "/tmp");

    private static string[] Errors(Dictionary<string, string?> values) =>
        [.. Assert.Throws<NodeConfigurationException>(() => Load(values)).Errors];

    [Fact]
    public void Interception_is_off_by_default()
    {
        var s = Load([]);
        Assert.False(s.Intercept.Enabled);
        Assert.Null(s.Intercept.Authority);
    }

    [Fact]
    public void Enabling_it_without_a_ca_names_both_keys()
    {
        var errors = Errors(new() { ["Intercept:Enabled"] = "true", ["Intercept:Bump"] = "*" });
        Assert.Contains(errors, e => e.StartsWith("Intercept:CaCertificatePath: Intercept:Enabled=true needs the CA", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Intercept:CaKeyPath: Intercept:Enabled=true needs the CA", StringComparison.Ordinal));
    }

    [Fact]
    public void Enabling_it_with_nothing_to_bump_is_an_error()
    {
        var ca = new ProxyAuthority();
        var errors = Errors(new() { ["Intercept:Enabled"] = "true", ["Intercept:CaCertificatePath"] = ca.CertificatePath, ["Intercept:CaKeyPath"] = ca.KeyPath });
        Assert.Contains(errors, e => e.StartsWith("Intercept:Bump: interception is enabled but no host is listed", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Intercept:LeafLifetime", "400d", "Intercept:LeafLifetime: must be from 1h to 397d")]
    [InlineData("Intercept:LeafLifetime", "7", "Intercept:LeafLifetime: '7' has no unit")]
    [InlineData("Intercept:NeverBump", "bank example", "Intercept:NeverBump: '.bank example' is not a domain name")]
    [InlineData("Intercept:OriginCaPath", "/nonexistent/ca.pem", "Intercept:OriginCaPath: the file '/nonexistent/ca.pem' does not exist")]
    [InlineData("Intercept:Bumpp", "x", "Intercept:Bumpp: unknown setting")]
    public void Bad_values_are_reported_with_their_key(string key, string value, string expected) =>
        Assert.Contains(Errors(new() { [key] = value }), e => e.StartsWith(expected, StringComparison.Ordinal));

    [Fact]
    public void A_key_that_does_not_belong_to_the_certificate_is_refused()
    {
        var (ca, other) = (new ProxyAuthority(), new ProxyAuthority());
        var errors = Errors(new() { ["Intercept:Enabled"] = "true", ["Intercept:Bump"] = "*", ["Intercept:CaCertificatePath"] = ca.CertificatePath, ["Intercept:CaKeyPath"] = other.KeyPath });
        Assert.Contains(errors, e => e.StartsWith("Intercept:CaCertificatePath: cannot load", StringComparison.Ordinal));
    }

    [Fact]
    public void Lists_match_a_domain_and_every_name_below_it()
    {
        var ca = new ProxyAuthority();
        var s = Load(new() { ["Intercept:Enabled"] = "true", ["Intercept:CaCertificatePath"] = ca.CertificatePath, ["Intercept:CaKeyPath"] = ca.KeyPath,
            ["Intercept:Bump"] = "example.org, cdn.example.net", ["Intercept:NeverBump"] = "bank.example" });
        Assert.True(s.Intercept.Bump.Matches("example.org"));
        Assert.True(s.Intercept.Bump.Matches("www.example.org"));
        Assert.False(s.Intercept.Bump.Matches("notexample.org"));
        Assert.True(s.Intercept.NeverBump.Matches("online.bank.example"));
        Assert.False(s.Intercept.BumpAll);
    }
}
