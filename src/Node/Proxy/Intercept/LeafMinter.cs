using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Contracts.Intercept;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// Mints leaf certificates for intercepted hosts, signed by the operator's CA (Intercept:CaCertificatePath):
/// ECDSA P-256, exactly one SAN (the host name or IP address the client asked for), server authentication only,
/// a short lifetime (Intercept:LeafLifetime, never past the CA's own end).
/// </summary>
public sealed class LeafMinter(InterceptSettings settings)
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");

    public LeafCertificate Mint(string host)
    {
        var ca = settings.Authority ?? throw new InvalidOperationException("interception is off: no CA to sign with");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedName($"CN={(host.Length <= 64 ? host : host[..64])}, O=CacheCluster interception");
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuth], false));
        var san = new SubjectAlternativeNameBuilder();
        if (IPAddress.TryParse(host, out var address)) san.AddIpAddress(address); else san.AddDnsName(host);
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        // Backdated a little for clients whose clocks run behind.
        var now = DateTimeOffset.UtcNow;
        var notBefore = now.AddHours(-1) < ca.NotBefore ? new DateTimeOffset(ca.NotBefore.ToUniversalTime()) : now.AddHours(-1);
        var notAfter = now + settings.LeafLifetime;
        if (notAfter > ca.NotAfter) notAfter = new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f;
        using var cert = request.Create(ca.SubjectName, Signer(ca), notBefore, notAfter, serial);
        return new LeafCertificate(cert.Export(X509ContentType.Cert), key.ExportPkcs8PrivateKey(), notAfter);
    }

    /// <summary>A certificate with less than a quarter of its lifetime left is replaced (clients see a fresh one well before it ends).</summary>
    public bool NeedsRenewal(LeafCertificate leaf, DateTimeOffset now) => leaf.NotAfter - now < settings.LeafLifetime / 4;

    private static X509SignatureGenerator Signer(X509Certificate2 ca) =>
        ca.GetECDsaPrivateKey() is { } ec ? X509SignatureGenerator.CreateForECDsa(ec)
        : ca.GetRSAPrivateKey() is { } rsa ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1)
        : throw new InvalidOperationException("the interception CA's key is neither RSA nor ECDSA");
}
