using System.Net;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.FrontEnd.Tls;

/// <summary>
/// Proxy:HttpsListen and Proxy:Tls:* — the HTTPS proxy listener (Squid's https_port): TLS between client and proxy,
/// certificate and key from PEM files. Off unless Proxy:HttpsListen is set. The files are loaded here once so a
/// missing, unreadable or mismatched file stops the node at start with a line naming its key.
/// </summary>
public sealed class HttpsProxySettings
{
    internal static readonly string[] TlsKeys = ["CertificatePath", "KeyPath", "Http2"];

    public static readonly HttpsProxySettings Off = new();

    /// <summary>Where the HTTPS proxy listens; empty: no HTTPS listener.</summary>
    public IReadOnlyList<IPEndPoint> Listen { get; init; } = [];
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }
    /// <summary>Offer h2 by ALPN besides http/1.1 (Proxy:Tls:Http2, default true).</summary>
    public bool Http2 { get; init; } = true;

    public bool Enabled => Listen.Count > 0;

    internal static HttpsProxySettings Read(SettingsReader r)
    {
        r.RejectUnknown("Proxy:Tls", TlsKeys);
        var listen = r.List("Proxy:HttpsListen") is null ? [] : r.Endpoints("Proxy:HttpsListen", "");
        string? cert = r.Config["Proxy:Tls:CertificatePath"], key = r.Config["Proxy:Tls:KeyPath"];
        bool http2 = r.Bool("Proxy:Tls:Http2", true);
        if (listen.Count == 0)
        {
            if (cert is not null || key is not null)
                r.Error("Proxy:HttpsListen", "Proxy:Tls:* is set but Proxy:HttpsListen is empty: give the HTTPS proxy listener an address:port (e.g. 0.0.0.0:3130), or remove Proxy:Tls");
            return Off;
        }
        if (string.IsNullOrWhiteSpace(cert) || string.IsNullOrWhiteSpace(key))
        {
            r.Error(string.IsNullOrWhiteSpace(cert) ? "Proxy:Tls:CertificatePath" : "Proxy:Tls:KeyPath",
                "Proxy:HttpsListen needs both Proxy:Tls:CertificatePath and Proxy:Tls:KeyPath (PEM files)");
            return Off;
        }
        string certPath = r.FullPath(cert), keyPath = r.FullPath(key);
        var (ok, problem) = ProxyCertificate.Check(certPath, keyPath);
        if (!ok) r.Error(problem.Key, problem.Message);
        return new HttpsProxySettings { Listen = listen, CertificatePath = certPath, KeyPath = keyPath, Http2 = http2 };
    }

    /// <summary>HTTPS proxy ports are never shared with the plain proxy, management or cluster ports.</summary>
    internal static void CheckPorts(SettingsReader r, NodeSettings s)
    {
        foreach (var ep in s.Proxy.Https.Listen)
        {
            if (ep.Port == 0) continue;
            if (s.Proxy.Listen.Any(p => p.Port == ep.Port))
                r.Error("Proxy:HttpsListen", $"port {ep.Port} is also a plain proxy port (Proxy:Listen)");
            if (s.Management.Listen.Any(p => p.Port == ep.Port))
                r.Error("Proxy:HttpsListen", $"port {ep.Port} is also a management port (Management:Listen)");
            if (s.Cluster.UsesPort(ep.Port))
                r.Error("Proxy:HttpsListen", $"port {ep.Port} is already used by the cluster (Cluster:SiloPort / Cluster:GatewayPort)");
        }
    }
}
