namespace CacheCluster.Caching;

/// <summary>Freshness lifetime and age of a stored response, as a shared cache computes them (RFC 9111 4.2).</summary>
public static class Freshness
{
    /// <summary>Statuses a cache may store with heuristic freshness (RFC 9110 15.1).</summary>
    public static bool IsHeuristicallyCacheable(int status) => status switch
    {
        200 or 203 or 204 or 206 or 300 or 301 or 308 or 404 or 405 or 410 or 414 or 501 => true,
        _ => false,
    };

    /// <summary>
    /// Freshness lifetime (RFC 9111 4.2.1): s-maxage over max-age over Expires − Date, else a heuristic
    /// when allowed. An invalid directive or an unparseable Expires yields zero (stale).
    /// Returns null when the response carries no explicit freshness and no heuristic applies.
    /// </summary>
    public static TimeSpan? Lifetime(int status, string[] headers, CacheControl cc, FreshnessRules rules, out bool heuristic) =>
        LifetimeWithRule(status, headers, cc, rules, rule: null, responseTime: null, out heuristic);

    /// <summary>
    /// As <see cref="Lifetime(int, string[], CacheControl, FreshnessRules, out bool)"/>, consulting the first
    /// operator rule matching <paramref name="url"/> (the cache key) and using <paramref name="responseTime"/>
    /// in place of a missing Date (RFC 9110 6.6.1).
    /// </summary>
    public static TimeSpan? Lifetime(int status, string[] headers, CacheControl cc, FreshnessRules rules, string? url,
        DateTimeOffset? responseTime, out bool heuristic) =>
        LifetimeWithRule(status, headers, cc, rules, rules.Match(url), responseTime, out heuristic);

    /// <summary>The lifetime under one (already matched) operator rule; null <paramref name="rule"/> means none.</summary>
    public static TimeSpan? LifetimeWithRule(int status, string[] headers, CacheControl cc, FreshnessRules rules, FreshnessRule? rule,
        DateTimeOffset? responseTime, out bool heuristic)
    {
        heuristic = false;
        if (ExplicitLifetime(headers, cc, responseTime) is { } explicitLife)
        {
            // override-expire: at least Min even when the origin said less (Squid's FRESH_OVERRIDE_EXPIRES).
            if (rule is { OverrideExpire: true } && explicitLife < rule.Min) return rule.Min;
            return explicitLife;
        }

        // Heuristic freshness only for statuses that allow it, or an explicit public (RFC 9111 4.2.2).
        if (!(IsHeuristicallyCacheable(status) || cc.Public)) return null;
        var date = DateOf(headers) ?? responseTime;
        bool hasLm = HttpDate.TryParse(HeaderPairs.Get(headers, "Last-Modified"), out var lastModified);
        if (rule is null)
        {
            if (hasLm && date is { } d && d > lastModified)
            {
                heuristic = true;
                var life = TimeSpan.FromSeconds((d - lastModified).TotalSeconds * rules.HeuristicFraction);
                return life > rules.HeuristicMax ? rules.HeuristicMax : life;
            }
            return null;
        }

        if (hasLm && date is { } rd && rd > lastModified)
        {
            heuristic = true;
            var life = TimeSpan.FromSeconds((rd - lastModified).TotalSeconds * rule.Percent / 100.0);
            if (rule.OverrideLastModified && life < rule.Min) life = rule.Min;
            return life > rule.Max ? rule.Max : life;
        }
        // No usable Last-Modified: fresh for Min (but never beyond Max).
        var minLife = rule.Min < rule.Max ? rule.Min : rule.Max;
        if (minLife <= TimeSpan.Zero) return null;
        heuristic = true;
        return minLife;
    }

    /// <summary>
    /// Explicit freshness (RFC 9111 4.2.1): s-maxage, then max-age, then Expires − Date; null when none.
    /// An invalid directive, an invalid Expires or several Expires lines mean zero (RFC 9111 4.2.1, 5.3).
    /// Expires is ignored when <paramref name="cc"/> came from a targeted field (RFC 9213 2.1).
    /// </summary>
    public static TimeSpan? ExplicitLifetime(string[] headers, CacheControl cc, DateTimeOffset? responseTime = null)
    {
        if (cc.SMaxAgeInvalid) return TimeSpan.Zero;
        if (cc.SMaxAge is long s) return TimeSpan.FromSeconds(s);
        if (cc.MaxAgeInvalid) return TimeSpan.Zero;
        if (cc.MaxAge is long m) return TimeSpan.FromSeconds(m);
        if (cc.FromTargetedField) return null;

        var expires = HeaderPairs.Get(headers, "Expires");
        if (expires is null) return null;
        // A second Expires line or an invalid date means "already expired" (RFC 9111 4.2.1, 5.3).
        if (HeaderPairs.Count(headers, "Expires") > 1 || !HttpDate.TryParse(expires, out var exp)) return TimeSpan.Zero;
        var date = DateOf(headers) ?? responseTime ?? exp;
        var life = exp - date;
        return life > TimeSpan.Zero ? life : TimeSpan.Zero;
    }

    public static DateTimeOffset? DateOf(string[] headers) =>
        HttpDate.TryParse(HeaderPairs.Get(headers, "Date"), out var d) ? d : null;

    /// <summary>
    /// Age the response had when we received it (RFC 9111 4.2.3 corrected_initial_age): the larger of the
    /// apparent age (response_time − Date) and the upstream Age corrected by the response delay.
    /// </summary>
    public static TimeSpan InitialAge(string[] headers, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var apparent = DateOf(headers) is { } date && responseTime > date ? responseTime - date : TimeSpan.Zero;
        long ageValue = 0;
        var ageHeader = HeaderPairs.Get(headers, "Age");
        if (ageHeader is not null) ageValue = AgeValue(ageHeader);
        var delay = responseTime > requestTime ? responseTime - requestTime : TimeSpan.Zero;
        var corrected = TimeSpan.FromSeconds(ageValue) + delay;
        return apparent > corrected ? apparent : corrected;
    }

    /// <summary>current_age = corrected_initial_age + resident_time.</summary>
    public static TimeSpan CurrentAge(TimeSpan initialAge, DateTimeOffset responseTime, DateTimeOffset now) =>
        initialAge + (now > responseTime ? now - responseTime : TimeSpan.Zero);

    /// <summary>
    /// The Age field value in seconds (RFC 9111 5.1): a list-valued Age uses its first member; a value that is
    /// not a non-negative integer is ignored (0); a huge one clamps to 2^31.
    /// </summary>
    public static long AgeValue(string? ageHeader)
    {
        if (ageHeader is null) return 0;
        var span = ageHeader.AsSpan();
        int comma = span.IndexOf(',');
        if (comma >= 0) span = span[..comma];
        return CacheControl.TryDelta(true, span.Trim(), out var a) ? a : 0;
    }
}
