namespace CacheCluster.Caching;

public enum HitVerdict
{
    /// <summary>Fresh enough for this request: serve it.</summary>
    Fresh,
    /// <summary>Stale, but the request's max-stale allows it and the response does not forbid it.</summary>
    StaleAllowed,
    /// <summary>Stale (or no-cache): must go to the origin.</summary>
    Stale,
}

public static partial class HitDecision
{
    /// <summary>
    /// Can a stored response satisfy this request without contacting the origin (RFC 9111 4.2, 5.2.1)?
    /// <paramref name="ttl"/> is the freshness left (negative when stale), <paramref name="age"/> the current age.
    /// </summary>
    public static HitVerdict Evaluate(in FreshnessFacts facts, DateTimeOffset responseTime, CacheControl requestCc,
        bool requestPragmaNoCache, DateTimeOffset now, out TimeSpan age, out TimeSpan ttl) =>
        Evaluate(facts, responseTime, requestCc, requestPragmaNoCache, now, FreshnessRules.Default, out age, out ttl);

    /// <summary>
    /// As the overload without <paramref name="rules"/>, honouring operator options: with
    /// <see cref="FreshnessRules.ImmutableIgnoresRequestMaxAge"/>, a still-fresh <c>immutable</c> response
    /// (RFC 8246) is served despite the request's max-age (a reload); request no-cache still revalidates.
    /// </summary>
    public static HitVerdict Evaluate(in FreshnessFacts facts, DateTimeOffset responseTime, CacheControl requestCc,
        bool requestPragmaNoCache, DateTimeOffset now, FreshnessRules rules, out TimeSpan age, out TimeSpan ttl)
    {
        age = Freshness.CurrentAge(facts.InitialAge, responseTime, now);
        ttl = facts.Lifetime - age;
        bool immutableFresh = rules.ImmutableIgnoresRequestMaxAge && facts.Immutable && ttl > TimeSpan.Zero;
        if (facts.NoCache) return HitVerdict.Stale;
        // Pragma: no-cache counts only when the request has no Cache-Control (RFC 9111 5.4).
        if (requestCc.NoCache || (requestPragmaNoCache && !requestCc.Present)) return HitVerdict.Stale;

        var lifetime = facts.Lifetime;
        if (!immutableFresh)
        {
            if (requestCc.MaxAge is long maxAge && age > TimeSpan.FromSeconds(maxAge)) return HitVerdict.Stale;
            if (requestCc.MaxAgeInvalid) return HitVerdict.Stale;
        }
        var freshLeft = lifetime - age;
        if (requestCc.MinFresh is long minFresh) freshLeft -= TimeSpan.FromSeconds(minFresh);
        if (freshLeft > TimeSpan.Zero) return HitVerdict.Fresh;

        // Stale: max-stale may allow it unless the response demands revalidation.
        if (!facts.MustRevalidate && (requestCc.MaxStaleAny ||
            (requestCc.MaxStale is long maxStale && -(lifetime - age) <= TimeSpan.FromSeconds(maxStale))))
            return HitVerdict.StaleAllowed;
        return HitVerdict.Stale;
    }
}
