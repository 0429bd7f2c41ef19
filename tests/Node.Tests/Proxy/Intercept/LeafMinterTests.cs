using System.Net;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Intercept;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

public class LeafMinterTests
{
    private static (LeafMinter Minter, ProxyAuthority Ca) Minter(TimeSpan? lifetime = null)
    {
        var ca = new ProxyAuthority();
        var settings = new InterceptSettings
        {
            Enabled = true,
            Authority = X509Certificate2.CreateFromPemFile(ca.CertificatePath, ca.KeyPath),
            LeafLifetime = lifetime ?? TimeSpan.FromDays(7),
        };
        return (new LeafMinter(settings), ca);
    }

    [Fact]
    public void A_leaf_is_ecdsa_p256_for_exactly_the_name_asked_short_lived_and_chains_to_the_ca()
    {
        var (minter, ca) = Minter();
        var leaf = minter.Mint("www.example.org");
        using var cert = X509CertificateLoader.LoadCertificate(leaf.CertificateDer);

        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["www.example.org"], san.EnumerateDnsNames());
        Assert.Empty(san.EnumerateIPAddresses());
        Assert.Equal(256, cert.GetECDsaPublicKey()!.KeySize);
        Assert.False(cert.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.InRange(cert.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromDays(6.9), TimeSpan.FromDays(7));
        Assert.Equal(cert.NotAfter.ToUniversalTime(), leaf.NotAfter.UtcDateTime, TimeSpan.FromSeconds(1));

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca.Certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(cert), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    [Fact]
    public void A_leaf_for_an_address_carries_it_as_an_ip_san()
    {
        var (minter, _) = Minter();
        using var cert = X509CertificateLoader.LoadCertificate(minter.Mint("192.0.2.7").CertificateDer);
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal([IPAddress.Parse("192.0.2.7")], san.EnumerateIPAddresses());
        Assert.Empty(san.EnumerateDnsNames());
    }

    [Fact]
    public void A_leaf_is_renewed_when_a_quarter_of_its_life_is_left()
    {
        var (minter, _) = Minter(TimeSpan.FromDays(8));
        var leaf = minter.Mint("example.org");
        Assert.False(minter.NeedsRenewal(leaf, DateTimeOffset.UtcNow));
        Assert.False(minter.NeedsRenewal(leaf, DateTimeOffset.UtcNow.AddDays(5.9)));
        Assert.True(minter.NeedsRenewal(leaf, DateTimeOffset.UtcNow.AddDays(6.1)));
    }
}
