namespace CacheCluster.Caching;

/// <summary>Serving stale responses: stale-while-revalidate and stale-if-error (RFC 5861, RFC 9111 4.2.4).</summary>
public static partial class HitDecision
{
    /// <summary>
    /// May this stale entry be served now while the cache revalidates it in the background (RFC 5861 3)?
    /// True only when the entry is stale by at most the response's stale-while-revalidate, the response does
    /// not forbid serving stale (no-cache, must-revalidate, proxy-revalidate, s-maxage: RFC 9111 4.2.4), and the
    /// request does not insist on freshness (no-cache, Pragma: no-cache, a max-age it exceeds, min-fresh).
    /// A fresh entry returns false (it is a plain hit). <paramref name="staleness"/> is age − lifetime.
    /// </summary>
    public static bool CanServeWhileRevalidating(in FreshnessFacts facts, DateTimeOffset responseTime, CacheControl requestCc,
        bool requestPragmaNoCache, DateTimeOffset now, out TimeSpan staleness)
    {
        var age = Freshness.CurrentAge(facts.InitialAge, responseTime, now);
        staleness = age - facts.Lifetime;
        if (staleness <= TimeSpan.Zero) return false;
        if (facts.StaleWhileRevalidate is not { } window || staleness > window) return false;
        if (facts.NoCache || facts.MustRevalidate) return false;
        return !RequestDemandsFresh(requestCc, requestPragmaNoCache, age);
    }

    /// <summary>
    /// May this entry be served because the origin failed (5xx, or unreachable) (RFC 5861 4)? The window is
    /// the largest of the response's stale-if-error, the request's stale-if-error and the operator's
    /// <see cref="FreshnessRules.ServeStaleOnErrorFor"/>; with none, false. The response must not forbid stale
    /// (no-cache, must-revalidate, proxy-revalidate, s-maxage: RFC 9111 4.2.4, 5.2.2.2). Request no-cache,
    /// Pragma: no-cache, an exceeded max-age or a min-fresh also forbid it, unless the request itself carries
    /// stale-if-error (the client's explicit consent). <paramref name="staleness"/> is age − lifetime; an entry
    /// that is still fresh (staleness ≤ 0, forwarded only because of the request) is within any window.
    /// </summary>
    public static bool CanServeOnError(in FreshnessFacts facts, DateTimeOffset responseTime, CacheControl requestCc,
        bool requestPragmaNoCache, FreshnessRules rules, DateTimeOffset now, out TimeSpan staleness)
    {
        var age = Freshness.CurrentAge(facts.InitialAge, responseTime, now);
        staleness = age - facts.Lifetime;
        TimeSpan? window = Max(Max(facts.StaleIfError,
            requestCc.StaleIfError is long r ? TimeSpan.FromSeconds(r) : null), rules.ServeStaleOnErrorFor);
        if (window is not { } w || staleness > w) return false;
        if (facts.NoCache || facts.MustRevalidate) return false;
        if (requestCc.StaleIfError is null && RequestDemandsFresh(requestCc, requestPragmaNoCache, age)) return false;
        return true;
    }

    private static bool RequestDemandsFresh(CacheControl requestCc, bool requestPragmaNoCache, TimeSpan age) =>
        requestCc.NoCache || (requestPragmaNoCache && !requestCc.Present) || requestCc.MaxAgeInvalid
        || (requestCc.MaxAge is long maxAge && age > TimeSpan.FromSeconds(maxAge)) || requestCc.MinFresh is not null;

    private static TimeSpan? Max(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : (a > b ? a : b);
}
