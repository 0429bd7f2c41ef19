using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Node.Configuration;
using Orleans.Connections.Security;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Mutual TLS on the silo-to-silo and gateway connections (Microsoft.Orleans.Connections.Security). Both ends
/// present a certificate and each accepts the other's only if it chains to the cluster CA from
/// Cluster:Tls:CaPath: the system trust store is never consulted (any public certificate would pass it) and
/// host names are not checked (silos dial each other by IP; holding a key the cluster CA signed is the
/// credential). Without that, whoever reaches the silo or gateway port could call any grain and write any
/// cache entry.
/// </summary>
public sealed class ClusterCertificates
{
    private readonly X509Certificate2Collection _authorities;
    private long _lastWarningTicks;
    private long _suppressed;

    public ClusterCertificates(ClusterTlsSettings tls) => _authorities = tls.Authorities;

    /// <summary>Set once the host is built: refused peers are logged (at most one line per 10 s).</summary>
    public ILogger? Log { get; set; }

    public static void Use(ISiloBuilder silo, ClusterTlsSettings tls, ClusterCertificates validator)
    {
        silo.UseTls(tls.Certificate!, options =>
        {
            options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate; // silo <-> silo
            options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate; // gateway clients too
            options.RemoteCertificateValidation = validator.Accept;
            options.HandshakeTimeout = TimeSpan.FromSeconds(10);
        });
    }

    /// <summary>Validation callback for both directions: the peer's certificate must chain to the cluster CA.</summary>
    public bool Accept(X509Certificate2 certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        var extra = presented?.ChainElements.Skip(1).Select(e => e.Certificate) ?? [];
        var problem = ChainProblem(certificate, _authorities, extra);
        if (problem is null) return true;
        Warn(certificate, problem);
        return false;
    }

    /// <summary>Why <paramref name="certificate"/> does not chain to one of <paramref name="authorities"/>, or null when it does.</summary>
    public static string? ChainProblem(X509Certificate2 certificate, X509Certificate2Collection authorities, IEnumerable<X509Certificate2>? intermediates = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        // Cluster CAs are private and short-lived in practice; there is no CRL/OCSP endpoint to ask.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var c in intermediates ?? []) chain.ChainPolicy.ExtraStore.Add(c);
        if (chain.Build(certificate)) return null;
        var statuses = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct();
        var text = string.Join("; ", statuses);
        return text.Length > 0 ? text : "untrusted";
    }

    private void Warn(X509Certificate2 certificate, string problem)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastWarningTicks);
        if (last != 0 && now - last < 10_000) { Interlocked.Increment(ref _suppressed); return; }
        Interlocked.Exchange(ref _lastWarningTicks, now);
        var suppressed = Interlocked.Exchange(ref _suppressed, 0);
        Log?.LogWarning("Refused a cluster connection: the peer's certificate '{Subject}' (issuer '{Issuer}') does not chain to the cluster CA (Cluster:Tls:CaPath): {Problem}{Suppressed}",
            certificate.Subject, certificate.Issuer, problem, suppressed > 0 ? $" ({suppressed} more refused since the last line)" : "");
    }
}
