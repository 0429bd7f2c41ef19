using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CacheCluster.Ctl;

/// <summary>
/// `cachectl ca create`: the operator's interception CA (Intercept:CaCertificatePath / CaKeyPath, docs/interception.md).
/// ECDSA P-256, CA:TRUE with path length 0 (it signs leaf certificates only), key usage certificate and CRL signing,
/// written as PEM: ca.crt (distribute it) and ca.key (mode 0600, keep it on the nodes only). Local: no node is asked.
/// </summary>
public static class CaCommand
{
    public static int Create(string directory, string name, int days, bool force)
    {
        if (days is < 1 or > 3650)
        {
            Console.Error.WriteLine("cachectl: --days must be from 1 to 3650");
            return ExitCodes.Usage;
        }
        var dir = Path.GetFullPath(directory);
        var certPath = Path.Combine(dir, "ca.crt");
        var keyPath = Path.Combine(dir, "ca.key");
        if (!force && (File.Exists(certPath) || File.Exists(keyPath)))
        {
            Console.Error.WriteLine($"cachectl: {certPath} or {keyPath} already exists (--force replaces them; every client trusting the old CA must get the new one)");
            return ExitCodes.Usage;
        }
        Directory.CreateDirectory(dir);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = request.CreateSelfSigned(now.AddHours(-1), now.AddDays(days));

        // The key first, private from its first byte (no window in which another user could read it).
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(new FileStream(keyPath, options)))
            file.Write(key.ExportPkcs8PrivateKeyPem());
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(certPath, ca.ExportCertificatePem());
        Console.WriteLine($"CA '{name}' valid until {ca.NotAfter.ToUniversalTime():yyyy-MM-dd} UTC, SHA-256 fingerprint {ca.GetCertHashString(HashAlgorithmName.SHA256)}");
        Console.WriteLine($"  certificate: {certPath}  (install it on the clients: docs/interception.md)");
        Console.WriteLine($"  private key: {keyPath}  (nodes only: Intercept:CaKeyPath; never on clients)");
        return ExitCodes.Ok;
    }
}
