namespace CacheCluster.Node.Configuration;

/// <summary>Squid's native format, NCSA common and combined (Apache's), or JSON lines.</summary>
public enum AccessLogFormat { Squid, Common, Combined, Json }

/// <summary>
/// AccessLog:* — one line per request. Reopened on SIGUSR1 (logrotate's postrotate, as for Squid's
/// `-k rotate`); optionally rotated by size as well.
/// </summary>
public sealed class AccessLogSettings
{
    internal static readonly string[] Keys = ["Path", "Format", "MaxSize", "MaxFiles", "StripQuery"];

    public static readonly AccessLogSettings Off = new();

    /// <summary>File to write; "-" is standard output; null: no access log.</summary>
    public string? Path { get; init; }
    public AccessLogFormat Format { get; init; } = AccessLogFormat.Squid;
    /// <summary>The file is rotated (access.log -> access.log.1 -> …) before it would grow past this; 0: never (logrotate's job).</summary>
    public long MaxSizeBytes { get; init; } = 100L << 20;
    /// <summary>Rotated files kept besides the current one.</summary>
    public int MaxFiles { get; init; } = 5;
    /// <summary>Squid's strip_query_terms (on by default): URLs are logged without what follows the '?' (tokens, session ids).</summary>
    public bool StripQuery { get; init; } = true;

    internal static AccessLogSettings Read(SettingsReader r)
    {
        r.RejectUnknown("AccessLog", Keys);
        var path = r.Config["AccessLog:Path"];
        return new AccessLogSettings
        {
            Path = string.IsNullOrWhiteSpace(path) ? null : path.Trim() == "-" ? "-" : r.FullPath(path),
            Format = r.Enum("AccessLog:Format", AccessLogFormat.Squid),
            // 0 turns size rotation off (logrotate then rotates, with a SIGUSR1 to reopen).
            MaxSizeBytes = r.Config["AccessLog:MaxSize"]?.Trim() == "0" ? 0 : r.Size("AccessLog:MaxSize", 100L << 20, min: 1024),
            MaxFiles = r.Count("AccessLog:MaxFiles", 5, min: 0, max: 1000),
            StripQuery = r.Bool("AccessLog:StripQuery", true),
        };
    }
}
