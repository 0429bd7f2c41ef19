using System.Net;

namespace CacheCluster.Node.Configuration;

/// <summary>Management:* — the gRPC API, /metrics and /healthz: where they listen, the token, TLS.</summary>
public sealed class ManagementSettings
{
    internal static readonly string[] Keys = ["Listen", "Token", "TokenFile", "Tls"];
    internal static readonly string[] TlsKeys = ["CertificatePath", "KeyPath"];

    public static readonly ManagementSettings Default = new() { Listen = [IPEndPoint.Parse("127.0.0.1:3129")] };

    /// <summary>gRPC API + /metrics + /healthz/live + /healthz/ready, all on each of these endpoints.</summary>
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    /// <summary>Bearer token every gRPC call must carry (except grpc.health.v1); null: none (loopback only).</summary>
    public string? Token { get; init; }
    public string? TlsCertificatePath { get; init; }
    public string? TlsKeyPath { get; init; }

    internal static ManagementSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Management", Keys);
        r.RejectUnknown("Management:Tls", TlsKeys);
        var listen = r.Endpoints("Management:Listen", "127.0.0.1:3129");

        var (token, tokenKey) = r.InlineOrFile("Management:Token", "Management:TokenFile",
            emptyInline: "must not be empty (leave it unset for no token on loopback)");
        if (token is { Length: > 0 and < 16 })
            r.Error(tokenKey, "is too short: use at least 16 characters (e.g. openssl rand -hex 24)");
        bool loopbackOnly = listen.All(ep => IPAddress.IsLoopback(ep.Address));
        if (string.IsNullOrEmpty(token) && !loopbackOnly)
            r.Error("Management:Token", $"required because Management:Listen includes a non-loopback address ({string.Join(", ", listen.Where(ep => !IPAddress.IsLoopback(ep.Address)))}); set Management:Token or Management:TokenFile");

        string? cert = r.Config["Management:Tls:CertificatePath"], key = r.Config["Management:Tls:KeyPath"];
        if ((cert is null) != (key is null))
            r.Error(cert is null ? "Management:Tls:CertificatePath" : "Management:Tls:KeyPath", "TLS needs both Management:Tls:CertificatePath and Management:Tls:KeyPath (PEM files)");
        foreach (var (k, v) in new[] { ("Management:Tls:CertificatePath", cert), ("Management:Tls:KeyPath", key) })
            if (v is not null && !File.Exists(r.FullPath(v)))
                r.Error(k, $"the file '{v.Trim()}' does not exist");

        return new ManagementSettings
        {
            Listen = listen,
            Token = string.IsNullOrEmpty(token) ? null : token,
            TlsCertificatePath = cert is null ? null : r.FullPath(cert),
            TlsKeyPath = key is null ? null : r.FullPath(key),
        };
    }
}
