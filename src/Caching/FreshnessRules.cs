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

    /// <summary>
    /// Squid-style refresh rules (see <see cref="FreshnessRule"/>); the first whose pattern matches the URL
    /// (cache key) applies. When none matches, <see cref="HeuristicFraction"/>/<see cref="HeuristicMax"/> apply.
    /// </summary>
    public IReadOnlyList<FreshnessRule> Rules { get; init; } = [];

    /// <summary>Rules consulted after <see cref="Rules"/> (the shipped <see cref="PackageRefreshRules"/>, unless turned off).</summary>
    public IReadOnlyList<FreshnessRule> Defaults { get; init; } = [];

    /// <summary>Responses with Set-Cookie: see <see cref="SetCookiePolicy"/>. A stored entry never replays Set-Cookie.</summary>
    public SetCookiePolicy SetCookie { get; init; } = SetCookiePolicy.NoStoreUnlessPublic;

    /// <summary>
    /// The targeted cache-control field(s) this cache obeys instead of Cache-Control (RFC 9213 2.1): one name
    /// or a comma-separated target list in priority order. Null or empty: none. Pass it to
    /// <see cref="CacheControl.ForSharedCache"/>.
    /// </summary>
    public string? TargetedField { get; init; } = CacheControl.DefaultTargetField;

    /// <summary>
    /// Serve a stale entry for up to this long past its freshness when the origin fails, even without a
    /// stale-if-error directive (never when must-revalidate, proxy-revalidate, s-maxage or no-cache forbid
    /// it, RFC 9111 4.2.4). Null: only stale-if-error (response or request, RFC 5861 4) allows it.
    /// </summary>
    public TimeSpan? ServeStaleOnErrorFor { get; init; }

    /// <summary>
    /// RFC 8246: an <c>immutable</c> response that is still fresh is served even when the request's
    /// <c>max-age</c> (typically 0, a browser reload) would force revalidation. A request <c>no-cache</c>
    /// (forced reload) still revalidates. Off by default.
    /// </summary>
    public bool ImmutableIgnoresRequestMaxAge { get; init; }

    /// <summary>The first rule matching <paramref name="url"/>, or null.</summary>
    public FreshnessRule? Match(string? url)
    {
        if (url is null) return null;
        foreach (var rule in Rules)
            if (rule.Matches(url)) return rule;
        foreach (var rule in Defaults)
            if (rule.Matches(url)) return rule;
        return null;
    }

    public static readonly FreshnessRules Default = new();
}
