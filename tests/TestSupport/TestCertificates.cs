using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CacheCluster.Tests.Support;

/// <summary>
/// A throw-away certificate authority and node certificates written as PEM files (what an operator or the Helm
/// chart gives a node in Cluster:Tls:*), made at test time with CertificateRequest.
/// </summary>
public sealed class TestCertificates
{
    private readonly RSA _caKey;

    public string Directory { get; }
    public X509Certificate2 Ca { get; }
    public string CaPath { get; }

    private TestCertificates(string directory, string name)
    {
        Directory = directory;
        _caKey = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(2));
        CaPath = Path.Combine(directory, $"{name}.crt");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
    }

    /// <summary>A new CA in a fresh temp folder.</summary>
    public static TestCertificates CreateAuthority(string name = "test-cluster-ca") => new(TempDir.Create("certs"), name);

    /// <summary>A node certificate signed by this CA (server and client authentication): the paths of its PEM certificate and key.</summary>
    public (string CertificatePath, string KeyPath) Issue(string name, DateTimeOffset? notAfter = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // server + client auth
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        using var cert = request.Create(Ca, DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(1), serial);
        var certPath = Path.Combine(Directory, $"{name}.crt");
        var keyPath = Path.Combine(Directory, $"{name}.key");
        File.WriteAllText(certPath, cert.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certPath, keyPath);
    }

    /// <summary>A certificate with its key loaded (for an Orleans client in a test).</summary>
    public X509Certificate2 Load(string name)
    {
        var (cert, key) = Issue(name);
        return X509Certificate2.CreateFromPemFile(cert, key);
    }

    /// <summary>The Cluster:Tls:* settings for a node holding the certificate <paramref name="name"/>.</summary>
    public Dictionary<string, string?> NodeSettings(string name)
    {
        var (cert, key) = Issue(name);
        return new Dictionary<string, string?>
        {
            ["Cluster:Tls:CertificatePath"] = cert,
            ["Cluster:Tls:KeyPath"] = key,
            ["Cluster:Tls:CaPath"] = CaPath,
        };
    }
}
