namespace CacheCluster.Caching;

/// <summary>Why a response may or may not be stored (RFC 9111 3). Each "No…" value names the rule that refused.</summary>
public enum StoreVerdict
{
    Store,
    MethodNotCacheable,
    RequestNoStore,
    ResponseNoStore,
    Private,
    Authorization,
    StatusNotCacheable,
    NoFreshness,
    VaryStar,
    TooLarge,
    SetCookie,
    /// <summary>must-understand on a status whose caching rules this cache does not implement (RFC 9111 5.2.2.3).</summary>
    MustUnderstand,
}

/// <summary>
/// What the owner records with a stored response so a hit needs no header parsing. <see cref="Immutable"/>
/// (RFC 8246), <see cref="StaleWhileRevalidate"/> and <see cref="StaleIfError"/> (RFC 5861, from the
/// effective response directives) default to "absent", so older five-argument constructions keep working.
/// </summary>
public readonly record struct FreshnessFacts(TimeSpan Lifetime, TimeSpan InitialAge, bool Heuristic, bool NoCache, bool MustRevalidate,
    bool Immutable = false, TimeSpan? StaleWhileRevalidate = null, TimeSpan? StaleIfError = null);

public static class StoreDecision
{
    /// <summary>
    /// Decides whether a shared cache may store this response (RFC 9111 3 and 3.5), and if so the facts
    /// needed later to judge freshness.
    /// </summary>
    public static StoreVerdict Decide(
        string method, bool requestHasAuthorization, CacheControl requestCc,
        int status, string[] responseHeaders, CacheControl responseCc, long? contentLength,
        DateTimeOffset requestTime, DateTimeOffset responseTime, FreshnessRules rules, out FreshnessFacts facts) =>
        Decide(method, requestHasAuthorization, requestCc, status, responseHeaders, responseCc, contentLength,
            requestTime, responseTime, rules, url: null, out facts);

    /// <summary>
    /// As the overload without <paramref name="url"/>, also applying the first operator rule
    /// (<see cref="FreshnessRules.Rules"/>) that matches <paramref name="url"/> (the cache key).
    /// Pass <paramref name="responseCc"/> from <see cref="CacheControl.ForSharedCache"/> to honour a targeted
    /// field such as CDN-Cache-Control (RFC 9213).
    /// </summary>
    public static StoreVerdict Decide(
        string method, bool requestHasAuthorization, CacheControl requestCc,
        int status, string[] responseHeaders, CacheControl responseCc, long? contentLength,
        DateTimeOffset requestTime, DateTimeOffset responseTime, FreshnessRules rules, string? url, out FreshnessFacts facts)
    {
        facts = default;
        var rule = rules.Match(url);
        if (!CacheMethods.IsGet(method)) return StoreVerdict.MethodNotCacheable;
        if (requestCc.NoStore) return StoreVerdict.RequestNoStore;
        bool expiresCounts = !responseCc.FromTargetedField && HeaderPairs.Get(responseHeaders, "Expires") is not null;
        bool explicitFreshness = responseCc.MaxAge is not null || responseCc.SMaxAge is not null || responseCc.Invalid || expiresCounts;
        if (responseCc.MustUnderstand)
        {
            // RFC 9111 5.2.2.3: store only if we understand the status's caching rules; then no-store is ignored.
            if (!UnderstandsStatus(status, explicitFreshness)) return StoreVerdict.MustUnderstand;
        }
        else if (responseCc.NoStore && rule is not { IgnoreNoStore: true }) return StoreVerdict.ResponseNoStore;
        // A shared cache never stores a bare `private` response (RFC 9111 5.2.2.7), even with `public` too.
        if (responseCc.Private && rule is not { IgnorePrivate: true }) return StoreVerdict.Private;
        if (status is < 200 or 206 or 304 || status >= 600) return StoreVerdict.StatusNotCacheable;
        // Authorization: only when the response explicitly allows shared storage (RFC 9111 3.5).
        if (requestHasAuthorization && !(responseCc.Public || responseCc.SMaxAge is not null || responseCc.MustRevalidate))
            return StoreVerdict.Authorization;
        // Vary: * matches no later request (RFC 9111 4.1): storing it would only waste space.
        if (HeaderPairs.Get(responseHeaders, "Vary") is not null)
        {
            Vary.Names(responseHeaders, out var varyStar);
            if (varyStar) return StoreVerdict.VaryStar;
        }
        // Set-Cookie: a per-user answer unless the origin says it is shareable (configurable, SetCookiePolicy).
        if (rules.SetCookie == SetCookiePolicy.NoStoreUnlessPublic && HeaderPairs.Get(responseHeaders, "Set-Cookie") is not null
            && !(responseCc.Public || responseCc.SMaxAge is not null))
            return StoreVerdict.SetCookie;
        if (contentLength is long len && len > rules.MaxObjectBytes) return StoreVerdict.TooLarge;

        var lifetime = Freshness.LifetimeWithRule(status, responseHeaders, responseCc, rules, rule, responseTime, out var heuristic);
        bool explicitOrPublic = responseCc.Public || explicitFreshness;
        if (!explicitOrPublic && !Freshness.IsHeuristicallyCacheable(status)) return StoreVerdict.StatusNotCacheable;

        bool hasValidator = HeaderPairs.Get(responseHeaders, "ETag") is not null || HeaderPairs.Get(responseHeaders, "Last-Modified") is not null;
        var life = lifetime ?? TimeSpan.Zero;
        // A response that is stale on arrival and cannot be revalidated is worthless to keep, unless the origin
        // allows serving it stale (RFC 5861: e.g. max-age=0, stale-if-error=N keeps it for origin failures).
        if (life <= TimeSpan.Zero && !hasValidator && responseCc.StaleIfError is null && responseCc.StaleWhileRevalidate is null)
            return StoreVerdict.NoFreshness;

        facts = new FreshnessFacts(
            life,
            Freshness.InitialAge(responseHeaders, requestTime, responseTime),
            heuristic,
            responseCc.NoCache,
            responseCc.MustRevalidate || responseCc.ProxyRevalidate || responseCc.SMaxAge is not null,
            responseCc.Immutable,
            responseCc.StaleWhileRevalidate is long swr ? TimeSpan.FromSeconds(swr) : null,
            responseCc.StaleIfError is long sie ? TimeSpan.FromSeconds(sie) : null);
        return StoreVerdict.Store;
    }

    /// <summary>
    /// Statuses whose caching requirements this cache implements, for must-understand (RFC 9111 5.2.2.3):
    /// the heuristically cacheable ones (RFC 9110 15.1), and 302/307 when they carry explicit freshness.
    /// (206 is "understood" but still not stored: this cache does not combine partial content.)
    /// </summary>
    public static bool UnderstandsStatus(int status, bool explicitFreshness) =>
        Freshness.IsHeuristicallyCacheable(status) || (status is 302 or 307 && explicitFreshness);
}

/// <summary>Method helpers without allocation.</summary>
public static class CacheMethods
{
    public static bool IsGet(string m) => string.Equals(m, "GET", StringComparison.OrdinalIgnoreCase);
    public static bool IsHead(string m) => string.Equals(m, "HEAD", StringComparison.OrdinalIgnoreCase);
    public static bool IsConnect(string m) => string.Equals(m, "CONNECT", StringComparison.OrdinalIgnoreCase);
    /// <summary>Methods whose success invalidates stored responses (RFC 9111 4.4).</summary>
    public static bool IsUnsafe(string m) => !(IsGet(m) || IsHead(m) || string.Equals(m, "OPTIONS", StringComparison.OrdinalIgnoreCase)
                                               || string.Equals(m, "TRACE", StringComparison.OrdinalIgnoreCase));
}

/// <summary>What to do with responses that set cookies (they are usually meant for one user).</summary>
public enum SetCookiePolicy
{
    /// <summary>Default: store only when the response is explicitly shareable (public or s-maxage); stored ones keep no Set-Cookie.</summary>
    NoStoreUnlessPublic,
    /// <summary>Store by the usual rules, but never keep or replay Set-Cookie from the cache.</summary>
    Strip,
}
