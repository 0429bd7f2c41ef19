namespace CacheCluster.Caching;

/// <summary>Operator settings for freshness that RFC 9111 leaves to the cache.</summary>
public sealed class FreshnessRules
{
    /// <summary>Heuristic freshness: this fraction of (Date − Last-Modified), RFC 9111 4.2.2 suggests 10%.</summary>
    public double HeuristicFraction { get; init; } = 0.1;
    /// <summary>Upper bound of a heuristic lifetime.</summary>
    public TimeSpan HeuristicMax { get; init; } = TimeSpan.FromDays(1);
    /// <summary>Largest body the cache stores; larger responses pass through.</summary>
    public long MaxObjectBytes { get; init; } = 256L << 20;

    public static readonly FreshnessRules Default = new();
}
