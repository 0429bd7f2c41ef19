using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>The origin's certificate was refused; the message says why, in words an operator or user can act on.</summary>
public sealed class OriginCertificateException(string message) : AuthenticationException(message);

/// <summary>
/// Strict checks of origins' certificates (chain, name, validity dates), as the platform does them, with two
/// additions: a refusal names its reason (OriginClient.Describe turns it into the 502 page: "the certificate of
/// localhost expired on …"), and Intercept:OriginCaPath adds trust anchors (an internal CA) besides the system
/// store. Nothing is ever let through that the platform refused for any reason other than a missing anchor.
/// </summary>
public static class OriginCertificates
{
    public static RemoteCertificateValidationCallback Validator(X509Certificate2Collection extraAuthorities) =>
        (sender, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None) return true;
            var host = (sender as SslStream)?.TargetHostName ?? "the origin";
            if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
                throw new OriginCertificateException($"{host} presented no certificate");
            var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors)
                && ChainProblem(leaf, chain, extraAuthorities) is { } problem)
                throw new OriginCertificateException($"the certificate of {host} {problem}");
            if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
                throw new OriginCertificateException($"the certificate presented for {host} is not for that name (it is for {NamesOf(leaf)})");
            return true;
        };

    /// <summary>Why the chain fails, or null when the only failure was an anchor that Intercept:OriginCaPath supplies.</summary>
    private static string? ChainProblem(X509Certificate2 leaf, X509Chain? presented, X509Certificate2Collection extra)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        foreach (var e in presented?.ChainElements.Skip(1) ?? []) chain.ChainPolicy.ExtraStore.Add(e.Certificate);
        if (extra.Count > 0)
        {
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(extra);
            if (chain.Build(leaf)) return null; // anchored in the configured CA (dates checked by the build too)
        }
        else chain.Build(leaf);
        var statuses = chain.ChainStatus.Select(s => s.Status).ToHashSet();
        var now = DateTime.Now;
        if (statuses.Contains(X509ChainStatusFlags.NotTimeValid))
            return leaf.NotAfter < now ? $"expired on {leaf.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm} UTC"
                : leaf.NotBefore > now ? $"is not valid before {leaf.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC"
                : "or one of its issuers is outside its validity dates";
        if (statuses.Contains(X509ChainStatusFlags.Revoked)) return "is revoked";
        if (statuses.Overlaps([X509ChainStatusFlags.UntrustedRoot, X509ChainStatusFlags.PartialChain]))
            return $"is not issued by a trusted authority (issuer '{leaf.Issuer}')";
        var text = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"is not valid: {(text.Length > 0 ? text : "untrusted chain")}";
    }

    private static string NamesOf(X509Certificate2 cert)
    {
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        var names = san is null ? [] : san.EnumerateDnsNames().Concat(san.EnumerateIPAddresses().Select(a => a.ToString())).Take(5).ToList();
        return names.Count > 0 ? string.Join(", ", names) : cert.GetNameInfo(X509NameType.SimpleName, false);
    }
}
