using CacheCluster.Caching;

namespace CacheCluster.Node.Configuration;

/// <summary>Cache:* — what is stored and for how long (RFC 9111 knobs, refresh rules, hot copies).</summary>
public sealed class CacheSettings
{
    internal static readonly string[] Keys =
        ["MaxObjectSize", "HeuristicFraction", "HeuristicMax", "HotCacheSize", "HotObjectMaxSize",
         "TargetedField", "RefreshRules", "PackageRules", "ServeStaleOnErrorFor", "ImmutableIgnoresRequestMaxAge", "SetCookie", "Compression"];

    public required long MaxObjectBytes { get; init; }
    public required double HeuristicFraction { get; init; }
    public required TimeSpan HeuristicMax { get; init; }
    /// <summary>Memory for this node's hot copies of popular entries (0 disables them).</summary>
    public required long HotCacheBytes { get; init; }
    public required long HotObjectMaxBytes { get; init; }
    /// <summary>Targeted cache-control field obeyed instead of Cache-Control (RFC 9213); null: none.</summary>
    public string? TargetedField { get; init; }
    /// <summary>Operator freshness rules, Squid refresh_pattern syntax, first match wins.</summary>
    public IReadOnlyList<FreshnessRule> RefreshRules { get; init; } = [];
    /// <summary>The shipped package and artifact rules (<see cref="PackageRefreshRules"/>) apply after <see cref="RefreshRules"/>.</summary>
    public bool PackageRules { get; init; } = true;
    public TimeSpan? ServeStaleOnErrorFor { get; init; }
    public bool ImmutableIgnoresRequestMaxAge { get; init; }
    public SetCookiePolicy SetCookie { get; init; }
    /// <summary>gzip / brotli forms of stored text responses (Cache:Compression:*).</summary>
    public CompressionSettings Compression { get; init; } = CompressionSettings.Default;

    /// <summary>
    /// A quarter of the disk budget, from 256 MiB up to 8 GiB: an installer image (ISO) is cached on a real disk
    /// budget, and one object never takes more than a quarter of the store.
    /// </summary>
    internal static long DefaultMaxObjectBytes(long diskBudgetBytes) => Math.Clamp(diskBudgetBytes / 4, 256L << 20, 8L << 30);

    internal static CacheSettings Read(SettingsReader r, StoreSettings store)
    {
        r.RejectUnknown("Cache", Keys);
        var config = r.Config;
        return new CacheSettings
        {
            MaxObjectBytes = r.Size("Cache:MaxObjectSize", DefaultMaxObjectBytes(store.DiskBudgetBytes), min: 1),
            HeuristicFraction = r.Fraction("Cache:HeuristicFraction", 0.1),
            HeuristicMax = r.Duration("Cache:HeuristicMax", TimeSpan.FromDays(1)),
            HotCacheBytes = r.Size("Cache:HotCacheSize", 64L << 20, min: 0),
            HotObjectMaxBytes = r.Size("Cache:HotObjectMaxSize", 1L << 20, min: 0),
            // Set but empty: no targeted field at all.
            TargetedField = config["Cache:TargetedField"] is { } tf ? (tf.Trim().Length == 0 ? null : tf.Trim()) : CacheControl.DefaultTargetField,
            RefreshRules = r.RefreshRules("Cache:RefreshRules"),
            PackageRules = r.Bool("Cache:PackageRules", true),
            ServeStaleOnErrorFor = config["Cache:ServeStaleOnErrorFor"] is null ? null : r.Duration("Cache:ServeStaleOnErrorFor", TimeSpan.Zero, allowZero: true),
            ImmutableIgnoresRequestMaxAge = r.Bool("Cache:ImmutableIgnoresRequestMaxAge", false),
            SetCookie = r.Enum("Cache:SetCookie", SetCookiePolicy.NoStoreUnlessPublic),
            Compression = CompressionSettings.Read(r),
        };
    }
}
