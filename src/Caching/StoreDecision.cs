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
    VaryNotSupported,
    TooLarge,
}

/// <summary>What the owner records with a stored response so a hit needs no header parsing.</summary>
public readonly record struct FreshnessFacts(TimeSpan Lifetime, TimeSpan InitialAge, bool Heuristic, bool NoCache, bool MustRevalidate);

public static class StoreDecision
{
    /// <summary>
    /// Decides whether a shared cache may store this response (RFC 9111 3 and 3.5), and if so the facts
    /// needed later to judge freshness.
    /// </summary>
    public static StoreVerdict Decide(
        string method, bool requestHasAuthorization, CacheControl requestCc,
        int status, string[] responseHeaders, CacheControl responseCc, long? contentLength,
        DateTimeOffset requestTime, DateTimeOffset responseTime, FreshnessRules rules, out FreshnessFacts facts)
    {
        facts = default;
        if (!CacheMethods.IsGet(method)) return StoreVerdict.MethodNotCacheable;
        if (requestCc.NoStore) return StoreVerdict.RequestNoStore;
        if (responseCc.NoStore) return StoreVerdict.ResponseNoStore;
        // A shared cache never stores a bare `private` response (RFC 9111 5.2.2.7).
        if (responseCc.Private) return StoreVerdict.Private;
        if (status is < 200 or 206 or 304 || status >= 600) return StoreVerdict.StatusNotCacheable;
        // Authorization: only when the response explicitly allows shared storage (RFC 9111 3.5).
        if (requestHasAuthorization && !(responseCc.Public || responseCc.SMaxAge is not null || responseCc.MustRevalidate))
            return StoreVerdict.Authorization;
        if (HeaderPairs.Get(responseHeaders, "Vary") is not null) return StoreVerdict.VaryNotSupported;
        if (contentLength is long len && len > rules.MaxObjectBytes) return StoreVerdict.TooLarge;

        var lifetime = Freshness.Lifetime(status, responseHeaders, responseCc, rules, out var heuristic);
        bool explicitOrPublic = responseCc.Public || responseCc.MaxAge is not null || responseCc.SMaxAge is not null
                                || responseCc.Invalid || HeaderPairs.Get(responseHeaders, "Expires") is not null;
        if (!explicitOrPublic && !Freshness.IsHeuristicallyCacheable(status)) return StoreVerdict.StatusNotCacheable;

        bool hasValidator = HeaderPairs.Get(responseHeaders, "ETag") is not null || HeaderPairs.Get(responseHeaders, "Last-Modified") is not null;
        var life = lifetime ?? TimeSpan.Zero;
        // A response that is stale on arrival and cannot be revalidated is worthless to keep.
        if (life <= TimeSpan.Zero && !hasValidator) return StoreVerdict.NoFreshness;

        facts = new FreshnessFacts(
            life,
            Freshness.InitialAge(responseHeaders, requestTime, responseTime),
            heuristic,
            responseCc.NoCache,
            responseCc.MustRevalidate || responseCc.ProxyRevalidate || responseCc.SMaxAge is not null);
        return StoreVerdict.Store;
    }
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
