using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Node.Policy;

namespace CacheCluster.Node.Configuration;

/// <summary>
/// Intercept:* — opt-in TLS interception of CONNECT tunnels (Squid's ssl-bump): which hosts are bumped, which are
/// never touched, and the operator's CA that signs the leaf certificates. Off by default; the CA is loaded and
/// checked here so a wrong file stops the node with the key named.
/// </summary>
public sealed class InterceptSettings
{
    internal static readonly string[] Keys = ["Enabled", "CaCertificatePath", "CaKeyPath", "Bump", "NeverBump", "LeafLifetime", "OriginCaPath", "PeekTimeout"];

    public static readonly InterceptSettings Off = new();

    public bool Enabled { get; init; }
    /// <summary>The operator's CA certificate with its private key (RSA or ECDSA); null when interception is off.</summary>
    public X509Certificate2? Authority { get; init; }
    /// <summary>Hosts to bump (suffix match: "example.org" covers www.example.org); empty with <see cref="BumpAll"/> false: none.</summary>
    public DomainList Bump { get; init; } = new();
    public bool BumpAll { get; init; }
    /// <summary>Hosts never bumped, whatever <see cref="Bump"/> says (banks, health sites, pinned or client-certificate origins).</summary>
    public DomainList NeverBump { get; init; } = new();
    public TimeSpan LeafLifetime { get; init; } = TimeSpan.FromDays(7);
    /// <summary>Extra authorities trusted for origins' certificates, besides the system store (an internal CA).</summary>
    public X509Certificate2Collection OriginAuthorities { get; init; } = [];
    /// <summary>How long to wait for the client's TLS ClientHello after the 200; a tunnel that stays silent is spliced.</summary>
    public TimeSpan PeekTimeout { get; init; } = TimeSpan.FromSeconds(10);

    internal static InterceptSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Intercept", Keys);
        var config = r.Config;
        bool enabled = r.Bool("Intercept:Enabled", false);
        var lifetime = r.Duration("Intercept:LeafLifetime", TimeSpan.FromDays(7));
        if (lifetime < TimeSpan.FromHours(1) || lifetime > TimeSpan.FromDays(397))
            r.Error("Intercept:LeafLifetime", "must be from 1h to 397d (browsers refuse longer-lived leaf certificates)");
        var peek = r.Duration("Intercept:PeekTimeout", TimeSpan.FromSeconds(10));
        var bump = new DomainList();
        bool all = false;
        foreach (var entry in r.List("Intercept:Bump") ?? [])
        {
            if (entry is "*" or "all") { all = true; continue; }
            if (bump.Add(AsSuffix(entry)) is { } error) r.Error("Intercept:Bump", error);
        }
        var never = new DomainList();
        foreach (var entry in r.List("Intercept:NeverBump") ?? [])
            if (never.Add(AsSuffix(entry)) is { } error) r.Error("Intercept:NeverBump", error);
        var originCas = ReadOriginAuthorities(r, config["Intercept:OriginCaPath"]);

        if (!enabled)
            return new InterceptSettings { LeafLifetime = lifetime, Bump = bump, BumpAll = all, NeverBump = never, OriginAuthorities = originCas, PeekTimeout = peek };
        if (!all && bump.Count == 0)
            r.Error("Intercept:Bump", "interception is enabled but no host is listed to bump (domains, or '*' for all but Intercept:NeverBump)");
        return new InterceptSettings
        {
            Enabled = true, Authority = ReadAuthority(r, config["Intercept:CaCertificatePath"], config["Intercept:CaKeyPath"]),
            LeafLifetime = lifetime, Bump = bump, BumpAll = all, NeverBump = never, OriginAuthorities = originCas, PeekTimeout = peek,
        };
    }

    /// <summary>Entries match the name and every name below it ("bank.example" also covers www.bank.example).</summary>
    private static string AsSuffix(string entry) => entry.StartsWith('.') ? entry : "." + entry;

    private static X509Certificate2? ReadAuthority(SettingsReader r, string? certValue, string? keyValue)
    {
        string? Existing(string key, string? value)
        {
            if (string.IsNullOrWhiteSpace(value)) { r.Error(key, "Intercept:Enabled=true needs the CA as PEM files (Intercept:CaCertificatePath and Intercept:CaKeyPath; `cachectl ca create` makes one)"); return null; }
            var full = r.FullPath(value);
            if (!File.Exists(full)) { r.Error(key, $"the file '{value.Trim()}' does not exist"); return null; }
            return full;
        }
        var certPath = Existing("Intercept:CaCertificatePath", certValue);
        var keyPath = Existing("Intercept:CaKeyPath", keyValue);
        if (certPath is null || keyPath is null) return null;
        X509Certificate2 ca;
        try { ca = X509Certificate2.CreateFromPemFile(certPath, keyPath); }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException) // ArgumentException: the key is another certificate's
        {
            r.Error("Intercept:CaCertificatePath", $"cannot load '{certValue!.Trim()}' with the key '{keyValue!.Trim()}' (PEM certificate and its private key, RSA or ECDSA): {ex.Message}");
            return null;
        }
        if (ca.GetRSAPrivateKey() is null && ca.GetECDsaPrivateKey() is null)
            r.Error("Intercept:CaKeyPath", "the CA key must be RSA or ECDSA");
        var constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
            r.Error("Intercept:CaCertificatePath", $"'{ca.Subject}' is not a CA certificate (basic constraints CA:TRUE): clients would refuse what it signs");
        var now = DateTime.Now;
        if (ca.NotAfter < now || ca.NotBefore > now)
            r.Error("Intercept:CaCertificatePath", $"the CA '{ca.Subject}' is valid only from {ca.NotBefore:u} to {ca.NotAfter:u}");
        return ca;
    }

    private static X509Certificate2Collection ReadOriginAuthorities(SettingsReader r, string? value)
    {
        var result = new X509Certificate2Collection();
        if (value is null) return result;
        if (string.IsNullOrWhiteSpace(value)) { r.Error("Intercept:OriginCaPath", "must not be empty"); return result; }
        var full = r.FullPath(value);
        if (!File.Exists(full)) { r.Error("Intercept:OriginCaPath", $"the file '{value.Trim()}' does not exist"); return result; }
        try { result.ImportFromPemFile(full); }
        catch (CryptographicException ex) { r.Error("Intercept:OriginCaPath", $"'{value.Trim()}' is not a PEM certificate file: {ex.Message}"); }
        if (result.Count == 0) r.Error("Intercept:OriginCaPath", $"'{value.Trim()}' holds no certificate (expected PEM 'BEGIN CERTIFICATE')");
        return result;
    }
}
