namespace CacheCluster.Node.Configuration;

/// <summary>
/// Cache:Compression:* — gzip and brotli to clients that accept them, made once from the stored identity response
/// and stored as its own entry (docs/compression.md).
/// </summary>
public sealed class CompressionSettings
{
    internal static readonly string[] Keys = ["Enabled", "Types", "MinSize", "MaxSize", "BrotliQuality", "GzipLevel"];

    /// <summary>Media types compressed by default: text and the text-based application formats (docs/compression.md).</summary>
    public static readonly string[] DefaultTypes =
    [
        "text/*", "application/json", "application/*+json", "application/javascript", "application/x-javascript",
        "application/ecmascript", "application/xml", "application/*+xml", "image/svg+xml", "application/wasm",
        "application/x-ndjson", "application/graphql-response+json", "font/ttf", "font/otf", "application/vnd.ms-fontobject",
        "image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
    ];

    public bool Enabled { get; init; } = true;
    /// <summary>Patterns: <c>type/subtype</c>, <c>type/*</c> or <c>type/*+suffix</c>, case-insensitive.</summary>
    public IReadOnlyList<string> Types { get; init; } = DefaultTypes;
    /// <summary>Smaller bodies are sent as they are (a compressed tiny body saves next to nothing).</summary>
    public long MinBytes { get; init; } = 1024;
    /// <summary>Larger bodies are sent as they are (a form is made in memory, in one go, by the node that serves it).</summary>
    public long MaxBytes { get; init; } = 16L << 20;
    /// <summary>Brotli quality (0-11): the form is made once, so more than the on-the-fly default of web servers.</summary>
    public int BrotliQuality { get; init; } = 6;
    /// <summary>gzip (zlib) level 1-9.</summary>
    public int GzipLevel { get; init; } = 6;

    public static CompressionSettings Default { get; } = new();

    internal static CompressionSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Cache:Compression", Keys);
        var types = r.List("Cache:Compression:Types") ?? [.. DefaultTypes];
        foreach (var t in types)
            if (!ValidPattern(t))
                r.Error("Cache:Compression:Types", $"'{t}' is not a media type pattern (type/subtype, type/* or type/*+suffix)");
        var min = r.Size("Cache:Compression:MinSize", 1024, min: 0);
        var max = r.Size("Cache:Compression:MaxSize", 16L << 20, min: 1);
        if (max < min) r.Error("Cache:Compression:MaxSize", "must not be smaller than Cache:Compression:MinSize");
        return new CompressionSettings
        {
            Enabled = r.Bool("Cache:Compression:Enabled", true),
            Types = types,
            MinBytes = min,
            MaxBytes = max,
            BrotliQuality = r.Count("Cache:Compression:BrotliQuality", 6, min: 0, max: 11),
            GzipLevel = r.Count("Cache:Compression:GzipLevel", 6, min: 1, max: 9),
        };
    }

    private static bool ValidPattern(string t)
    {
        int slash = t.IndexOf('/');
        if (slash <= 0 || slash == t.Length - 1 || t.IndexOf('/', slash + 1) >= 0 || t.AsSpan(0, slash).Contains('*')) return false;
        foreach (var c in t)
            if (c <= ' ' || c >= 127 || c is ',' or ';' or '"') return false;
        var sub = t[(slash + 1)..];
        return !sub.Contains('*') || sub == "*" || (sub.StartsWith("*+", StringComparison.Ordinal) && sub.Length > 2 && sub.IndexOf('*', 1) < 0);
    }
}
