namespace CacheCluster.Node.Configuration;

public enum AccessLogFormat { Squid, Json }

/// <summary>AccessLog:* — one line per request (Squid's native format or JSON), rotated by size.</summary>
public sealed class AccessLogSettings
{
    internal static readonly string[] Keys = ["Path", "Format", "MaxSize", "MaxFiles"];

    public static readonly AccessLogSettings Off = new();

    /// <summary>File to write; "-" is standard output; null: no access log.</summary>
    public string? Path { get; init; }
    public AccessLogFormat Format { get; init; } = AccessLogFormat.Squid;
    /// <summary>The file is rotated (access.log -> access.log.1 -> …) before it would grow past this.</summary>
    public long MaxSizeBytes { get; init; } = 100L << 20;
    /// <summary>Rotated files kept besides the current one.</summary>
    public int MaxFiles { get; init; } = 5;

    internal static AccessLogSettings Read(SettingsReader r)
    {
        r.RejectUnknown("AccessLog", Keys);
        var path = r.Config["AccessLog:Path"];
        return new AccessLogSettings
        {
            Path = string.IsNullOrWhiteSpace(path) ? null : path.Trim() == "-" ? "-" : r.FullPath(path),
            Format = r.Enum("AccessLog:Format", AccessLogFormat.Squid),
            MaxSizeBytes = r.Size("AccessLog:MaxSize", 100L << 20, min: 1024),
            MaxFiles = r.Count("AccessLog:MaxFiles", 5, min: 0, max: 1000),
        };
    }
}
