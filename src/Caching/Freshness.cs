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
    public static TimeSpan? Lifetime(int status, string[] headers, CacheControl cc, FreshnessRules rules, out bool heuristic)
    {
        heuristic = false;
        if (cc.SMaxAgeInvalid) return TimeSpan.Zero;
        if (cc.SMaxAge is long s) return TimeSpan.FromSeconds(s);
        if (cc.MaxAgeInvalid) return TimeSpan.Zero;
        if (cc.MaxAge is long m) return TimeSpan.FromSeconds(m);

        var expires = HeaderPairs.Get(headers, "Expires");
        if (expires is not null)
        {
            // A second Expires line or an invalid date means "already expired" (RFC 9111 5.3).
            if (HeaderPairs.Count(headers, "Expires") > 1 || !HttpDate.TryParse(expires, out var exp)) return TimeSpan.Zero;
            var date = DateOf(headers) ?? exp;
            var life = exp - date;
            return life > TimeSpan.Zero ? life : TimeSpan.Zero;
        }

        if ((IsHeuristicallyCacheable(status) || cc.Public) &&
            HttpDate.TryParse(HeaderPairs.Get(headers, "Last-Modified"), out var lastModified))
        {
            var date = DateOf(headers);
            if (date is { } d && d > lastModified)
            {
                heuristic = true;
                var life = TimeSpan.FromSeconds((d - lastModified).TotalSeconds * rules.HeuristicFraction);
                return life > rules.HeuristicMax ? rules.HeuristicMax : life;
            }
        }
        return null;
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
        if (ageHeader is not null && CacheControl.TryDelta(true, ageHeader.AsSpan().Trim(), out var a)) ageValue = a;
        var delay = responseTime > requestTime ? responseTime - requestTime : TimeSpan.Zero;
        var corrected = TimeSpan.FromSeconds(ageValue) + delay;
        return apparent > corrected ? apparent : corrected;
    }

    /// <summary>current_age = corrected_initial_age + resident_time.</summary>
    public static TimeSpan CurrentAge(TimeSpan initialAge, DateTimeOffset responseTime, DateTimeOffset now) =>
        initialAge + (now > responseTime ? now - responseTime : TimeSpan.Zero);
}
