using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CacheCluster.Node.FrontEnd.Tls;

/// <summary>
/// The HTTPS proxy listener's certificate as loaded from its PEM files: the leaf with its private key and any
/// intermediates that follow it in the certificate file (sent in the handshake so clients can build the chain).
/// Every failure names the setting whose file is wrong.
/// </summary>
public sealed record ProxyCertificate(X509Certificate2 Leaf, X509Certificate2Collection Intermediates) : IDisposable
{
    public const string CertificateKey = "Proxy:Tls:CertificatePath";
    public const string KeyKey = "Proxy:Tls:KeyPath";
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>Loads and checks both files; on failure the key of the setting at fault and why.</summary>
    public static (ProxyCertificate? Certificate, (string Key, string Message) Problem) TryLoad(string certPath, string keyPath)
    {
        if (Read(certPath, CertificateKey) is not { } certPem) return (null, Problem(certPath, CertificateKey));
        if (Read(keyPath, KeyKey) is not { } keyPem) return (null, Problem(keyPath, KeyKey));
        var all = new X509Certificate2Collection();
        try { all.ImportFromPem(certPem); }
        catch (CryptographicException ex) { return (null, (CertificateKey, $"'{certPath}' is not a valid PEM certificate file: {ex.Message}")); }
        if (all.Count == 0)
            return (null, (CertificateKey, $"'{certPath}' holds no certificate (-----BEGIN CERTIFICATE-----)"));
        if (keyPem.Contains("ENCRYPTED PRIVATE KEY", StringComparison.Ordinal))
            return (null, (KeyKey, $"'{keyPath}' is an encrypted key: give the node an unencrypted PEM key (openssl pkey -in {Path.GetFileName(keyPath)} -out plain.key)"));
        if (!keyPem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            return (null, (KeyKey, $"'{keyPath}' holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA or EC)"));
        X509Certificate2 leaf;
        try
        {
            // The first certificate in the file is the server's own; the key must belong to it.
            leaf = X509Certificate2.CreateFromPem(certPem, keyPem);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException) // a mismatched key is an ArgumentException
        {
            return (null, KeyParses(keyPem)
                ? (KeyKey, $"'{keyPath}' does not match the certificate in {CertificateKey} ('{certPath}', {all[0].Subject})")
                : (KeyKey, $"'{keyPath}' is not a usable private key: {ex.Message}"));
        }
        if (leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } eku
            && !eku.EnhancedKeyUsages.Cast<Oid>().Any(o => o.Value == ServerAuthOid))
        {
            leaf.Dispose();
            return (null, (CertificateKey, $"'{certPath}' ({all[0].Subject}) is not allowed for server authentication (its extended key usage lacks serverAuth)"));
        }
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < all.Count; i++) intermediates.Add(all[i]);
        all[0].Dispose();
        return (new ProxyCertificate(leaf, intermediates), ("", ""));
    }

    /// <summary>Start-up check (settings validation): true when both files load as a matching pair.</summary>
    internal static (bool Ok, (string Key, string Message) Problem) Check(string certPath, string keyPath)
    {
        var (cert, problem) = TryLoad(certPath, keyPath);
        cert?.Dispose();
        return (cert is not null, problem);
    }

    public void Dispose()
    {
        Leaf.Dispose();
        foreach (var c in Intermediates) c.Dispose();
    }

    /// <summary>Size and modification time of both files: a reload is tried only when this changes.</summary>
    internal static string Stamp(string certPath, string keyPath)
    {
        static string One(string p)
        {
            try { var f = new FileInfo(p); return f.Exists ? $"{f.Length}@{f.LastWriteTimeUtc.Ticks}" : "missing"; }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return "unreadable"; }
        }
        return One(certPath) + "|" + One(keyPath);
    }

    private static string? Read(string path, string key)
    {
        try { return File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    private static (string, string) Problem(string path, string key)
    {
        if (!File.Exists(path)) return (key, $"the file '{path}' does not exist");
        try { using var _ = File.OpenRead(path); return (key, $"the file '{path}' cannot be read"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return (key, $"the file '{path}' cannot be read: {ex.Message}"); }
    }

    private static bool KeyParses(string pem)
    {
        foreach (var make in new Func<AsymmetricAlgorithm>[] { RSA.Create, ECDsa.Create })
        {
            using var alg = make();
            try { alg.ImportFromPem(pem); return true; }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException) { }
        }
        return false;
    }
}
