using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Node.ClusterClient.Membership;

namespace CacheCluster.Node.Configuration;

/// <summary>How the silo (and gateway) ports are protected (Cluster:Tls:Mode).</summary>
public enum ClusterTlsMode
{
    /// <summary>TLS when certificates are configured; without them only a loopback-only silo may start.</summary>
    Auto,
    /// <summary>Mutual TLS required: the certificate keys must be set.</summary>
    On,
    /// <summary>Explicit insecure opt-in: plain TCP even on a non-loopback address (warned at every start).</summary>
    Off,
}

/// <summary>Cluster:Tls:* — mutual TLS between silos (and gateway clients).</summary>
public sealed class ClusterTlsSettings
{
    public ClusterTlsMode Mode { get; init; } = ClusterTlsMode.Auto;
    /// <summary>The silo and gateway listen on loopback only (then plain TCP is allowed without an opt-in).</summary>
    public bool LoopbackOnly { get; init; } = true;
    /// <summary>This node's certificate with its private key; null: cluster TLS is off.</summary>
    public X509Certificate2? Certificate { get; init; }
    /// <summary>The cluster CA(s) a peer's certificate must chain to (never the system trust store).</summary>
    public X509Certificate2Collection Authorities { get; init; } = [];
    public string? CertificatePath { get; init; }
    public string? CaPath { get; init; }
    public bool Enabled => Certificate is not null;

    internal static readonly string[] Keys = ["Mode", "CertificatePath", "KeyPath", "CaPath"];

    /// <summary>
    /// Cluster:Tls:* — mutual TLS between silos (and gateway clients). Certificates are loaded and checked here,
    /// at start-up, so a wrong file stops the node with the key named rather than failing the first connection.
    /// </summary>
    internal static ClusterTlsSettings Read(SettingsReader r, ClusteringMode mode, IPAddress advertised)
    {
        r.RejectUnknown("Cluster:Tls", Keys);
        var config = r.Config;
        var tlsMode = r.Enum("Cluster:Tls:Mode", ClusterTlsMode.Auto);
        string? cert = config["Cluster:Tls:CertificatePath"], key = config["Cluster:Tls:KeyPath"], ca = config["Cluster:Tls:CaPath"];
        bool any = cert is not null || key is not null || ca is not null;
        // Localhost mode always binds the silo to loopback; AdoNet binds it to the advertised address.
        bool loopbackOnly = mode == ClusteringMode.Localhost || IPAddress.IsLoopback(advertised);

        if (tlsMode == ClusterTlsMode.Off)
        {
            if (any) r.Error("Cluster:Tls:Mode", "is Off but certificates are configured (Cluster:Tls:CertificatePath / KeyPath / CaPath): remove one or the other");
            return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly };
        }
        if (!any)
        {
            if (tlsMode == ClusterTlsMode.On)
                r.Error("Cluster:Tls:CertificatePath", "Cluster:Tls:Mode=On needs Cluster:Tls:CertificatePath, Cluster:Tls:KeyPath and Cluster:Tls:CaPath (PEM files)");
            else if (!loopbackOnly)
                r.Error("Cluster:Tls:CertificatePath",
                    $"the silo listens on {advertised} (Cluster:AdvertisedAddress), where anyone who reaches it could read and write every cache entry: " +
                    "set Cluster:Tls:CertificatePath, Cluster:Tls:KeyPath and Cluster:Tls:CaPath (PEM files; mutual TLS), or Cluster:Tls:Mode=Off to run without (insecure)");
            return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly };
        }

        string? Required(string name, string? value)
        {
            if (value is null) { r.Error($"Cluster:Tls:{name}", "mutual TLS needs Cluster:Tls:CertificatePath, Cluster:Tls:KeyPath and Cluster:Tls:CaPath (PEM files)"); return null; }
            if (string.IsNullOrWhiteSpace(value)) { r.Error($"Cluster:Tls:{name}", "must not be empty"); return null; }
            var full = r.FullPath(value);
            if (!File.Exists(full)) { r.Error($"Cluster:Tls:{name}", $"the file '{value.Trim()}' does not exist"); return null; }
            return full;
        }
        var certPath = Required("CertificatePath", cert);
        var keyPath = Required("KeyPath", key);
        var caPath = Required("CaPath", ca);
        if (certPath is null || keyPath is null || caPath is null) return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly };

        var authorities = new X509Certificate2Collection();
        try { authorities.ImportFromPemFile(caPath); }
        catch (CryptographicException ex) { r.Error("Cluster:Tls:CaPath", $"'{ca!.Trim()}' is not a PEM certificate file: {ex.Message}"); return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly }; }
        if (authorities.Count == 0) { r.Error("Cluster:Tls:CaPath", $"'{ca!.Trim()}' holds no certificate (expected PEM 'BEGIN CERTIFICATE')"); return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly }; }

        X509Certificate2 certificate;
        try { certificate = X509Certificate2.CreateFromPemFile(certPath, keyPath); }
        catch (CryptographicException ex)
        {
            r.Error("Cluster:Tls:CertificatePath", $"cannot load '{cert!.Trim()}' with the key '{key!.Trim()}' (PEM certificate and its private key): {ex.Message}");
            return new ClusterTlsSettings { Mode = tlsMode, LoopbackOnly = loopbackOnly };
        }
        var now = DateTime.Now;
        if (certificate.NotAfter < now || certificate.NotBefore > now)
            r.Error("Cluster:Tls:CertificatePath", $"the certificate '{certificate.Subject}' is valid only from {certificate.NotBefore:u} to {certificate.NotAfter:u}");
        else if (ClusterCertificates.ChainProblem(certificate, authorities) is { } problem)
            r.Error("Cluster:Tls:CertificatePath", $"the certificate '{certificate.Subject}' does not chain to the CA in Cluster:Tls:CaPath: {problem}");
        return new ClusterTlsSettings
        {
            Mode = tlsMode, LoopbackOnly = loopbackOnly, Certificate = certificate, Authorities = authorities,
            CertificatePath = certPath, CaPath = caPath,
        };
    }
}
