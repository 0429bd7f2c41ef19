using System.Security.Cryptography.X509Certificates;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Node.Configuration;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Management.Tests;

/// <summary>`cachectl ca create`: the interception CA an operator gives the nodes (Intercept:*).</summary>
public class CaCommandTests
{
    [Fact]
    public async Task Ca_create_writes_a_private_key_and_a_ca_certificate_a_node_accepts()
    {
        var dir = Path.Combine(TempDir.Create("ca"), "out");
        var r = await Cli.RunAsync(["ca", "create", "--out", dir, "--name", "Example School CA", "--days", "30"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("SHA-256 fingerprint", r.Stdout);
        var certPath = Path.Combine(dir, "ca.crt");
        var keyPath = Path.Combine(dir, "ca.key");
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));

        using var ca = X509CertificateLoader.LoadCertificateFromFile(certPath);
        Assert.Equal("CN=Example School CA", ca.Subject);
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.InRange(ca.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromDays(29), TimeSpan.FromDays(31));

        var settings = NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Intercept:Enabled"] = "true",
            ["Intercept:CaCertificatePath"] = certPath,
            ["Intercept:CaKeyPath"] = keyPath,
            ["Intercept:Bump"] = "example.org",
        }).Build(), dir);
        Assert.True(settings.Intercept.Authority!.HasPrivateKey);

        // An existing CA is never overwritten by accident: clients trust it.
        var again = await Cli.RunAsync(["ca", "create", "--out", dir]);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already exists", again.Stderr);
    }
}
