using CacheCluster.Caching;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>
/// May this origin response be stored? StoreDecision (RFC 9111 3, src/Caching) on the response, plus what only
/// the proxy knows: a body whose end only the connection's close marks cannot be told from one cut short.
/// </summary>
public static class Storability
{
    /// <summary>
    /// True when the response may be stored (with its freshness <paramref name="facts"/>); otherwise
    /// <paramref name="notStored"/> says why, as the Cache-Status detail (null when there is nothing to say).
    /// </summary>
    public static bool Decide(string method, bool hasAuthorization, CacheControl requestCc, int status, string[] headers, BodyFraming framing,
        DateTimeOffset requestTime, DateTimeOffset responseTime, FreshnessRules rules, string cacheKey, out FreshnessFacts facts, out string? notStored)
    {
        // The targeted field (CDN-Cache-Control, RFC 9213) replaces Cache-Control for this cache when present.
        var responseCc = CacheControl.ForSharedCache(headers, rules.TargetedField);
        var verdict = StoreDecision.Decide(method, hasAuthorization, requestCc, status, headers, responseCc, framing.Length,
            requestTime, responseTime, rules, cacheKey, out facts);
        notStored = Detail(verdict);
        if (verdict == StoreVerdict.Store && !framing.ProvesCompleteness) notStored = "close-delimited";
        return verdict == StoreVerdict.Store && notStored is null;
    }

    private static string? Detail(StoreVerdict verdict) => verdict switch
    {
        StoreVerdict.Store => null,
        StoreVerdict.RequestNoStore or StoreVerdict.ResponseNoStore => "no-store",
        StoreVerdict.Private => "private",
        StoreVerdict.Authorization => "authorization",
        StoreVerdict.StatusNotCacheable => "status",
        StoreVerdict.NoFreshness => "no-freshness",
        StoreVerdict.VaryStar => "vary-star",
        StoreVerdict.TooLarge => "too-large",
        StoreVerdict.SetCookie => "set-cookie",
        _ => null,
    };
}
