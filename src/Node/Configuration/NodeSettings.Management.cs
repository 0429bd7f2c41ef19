using System.Net;

namespace CacheCluster.Node.Configuration;

public sealed partial class NodeSettings
{
    /// <summary>Management:* (the gRPC API, /metrics, /healthz) and AccessLog:* settings.</summary>
    private static (ManagementSettings, AccessLogSettings) ReadManagement(Reader r, IConfiguration config, ProxySettings proxy, ClusterSettings cluster, string contentRoot)
    {
        r.RejectUnknown("Management", "Listen", "Token", "TokenFile", "Tls");
        r.RejectUnknown("Management:Tls", "CertificatePath", "KeyPath");
        r.RejectUnknown("AccessLog", "Path", "Format", "MaxSize", "MaxFiles");

        var listen = r.Endpoints("Management:Listen", "127.0.0.1:3129");
        foreach (var ep in listen)
        {
            if (proxy.Listen.Any(p => p.Port == ep.Port && ep.Port != 0))
                r.Error("Management:Listen", $"port {ep.Port} is also a proxy port (Proxy:Listen): the management API never shares the proxy port");
            if (ep.Port == cluster.SiloPort || (cluster.GatewayEnabled && ep.Port == cluster.GatewayPort))
                r.Error("Management:Listen", $"port {ep.Port} is already used by the cluster (Cluster:SiloPort / Cluster:GatewayPort)");
        }

        var (token, tokenKey) = r.InlineOrFile("Management:Token", "Management:TokenFile", contentRoot,
            emptyInline: "must not be empty (leave it unset for no token on loopback)");
        if (token is { Length: > 0 and < 16 })
            r.Error(tokenKey, "is too short: use at least 16 characters (e.g. openssl rand -hex 24)");
        bool loopbackOnly = listen.All(ep => IPAddress.IsLoopback(ep.Address));
        if (string.IsNullOrEmpty(token) && !loopbackOnly)
            r.Error("Management:Token", $"required because Management:Listen includes a non-loopback address ({string.Join(", ", listen.Where(ep => !IPAddress.IsLoopback(ep.Address)))}); set Management:Token or Management:TokenFile");

        string? cert = config["Management:Tls:CertificatePath"], key = config["Management:Tls:KeyPath"];
        if ((cert is null) != (key is null))
            r.Error(cert is null ? "Management:Tls:CertificatePath" : "Management:Tls:KeyPath", "TLS needs both Management:Tls:CertificatePath and Management:Tls:KeyPath (PEM files)");
        foreach (var (k, v) in new[] { ("Management:Tls:CertificatePath", cert), ("Management:Tls:KeyPath", key) })
            if (v is not null && !File.Exists(Path.GetFullPath(v.Trim(), contentRoot)))
                r.Error(k, $"the file '{v.Trim()}' does not exist");

        var management = new ManagementSettings
        {
            Listen = listen,
            Token = string.IsNullOrEmpty(token) ? null : token,
            TlsCertificatePath = cert is null ? null : Path.GetFullPath(cert.Trim(), contentRoot),
            TlsKeyPath = key is null ? null : Path.GetFullPath(key.Trim(), contentRoot),
        };

        var path = config["AccessLog:Path"];
        var accessLog = new AccessLogSettings
        {
            Path = string.IsNullOrWhiteSpace(path) ? null : path.Trim() == "-" ? "-" : Path.GetFullPath(path.Trim(), contentRoot),
            Format = r.Enum("AccessLog:Format", AccessLogFormat.Squid),
            MaxSizeBytes = r.Size("AccessLog:MaxSize", 100L << 20, min: 1024),
            MaxFiles = r.Count("AccessLog:MaxFiles", 5, min: 0, max: 1000),
        };
        return (management, accessLog);
    }
}

public sealed class ManagementSettings
{
    public static readonly ManagementSettings Default = new() { Listen = [IPEndPoint.Parse("127.0.0.1:3129")] };

    /// <summary>gRPC API + /metrics + /healthz/live + /healthz/ready, all on each of these endpoints.</summary>
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    /// <summary>Bearer token every gRPC call must carry (except grpc.health.v1); null: none (loopback only).</summary>
    public string? Token { get; init; }
    public string? TlsCertificatePath { get; init; }
    public string? TlsKeyPath { get; init; }
}

public enum AccessLogFormat { Squid, Json }

public sealed class AccessLogSettings
{
    public static readonly AccessLogSettings Off = new();

    /// <summary>File to write; "-" is standard output; null: no access log.</summary>
    public string? Path { get; init; }
    public AccessLogFormat Format { get; init; } = AccessLogFormat.Squid;
    /// <summary>The file is rotated (access.log -> access.log.1 -> …) before it would grow past this.</summary>
    public long MaxSizeBytes { get; init; } = 100L << 20;
    /// <summary>Rotated files kept besides the current one.</summary>
    public int MaxFiles { get; init; } = 5;
}
