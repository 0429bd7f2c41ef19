using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>Entry heads from origin responses: a new one to store, one refreshed by a 304, and their freshness facts.</summary>
public static class EntryHeads
{
    /// <summary>The freshness facts computed at store time, so a hit parses no stored headers.</summary>
    public static FreshnessFacts FactsOf(EntryHead head) => new(
        TimeSpan.FromMilliseconds(head.LifetimeMs),
        TimeSpan.FromMilliseconds(head.InitialAgeMs),
        (head.Flags & EntryFlags.Heuristic) != 0,
        (head.Flags & EntryFlags.NoCache) != 0,
        (head.Flags & EntryFlags.MustRevalidate) != 0,
        (head.Flags & EntryFlags.Immutable) != 0,
        head.StaleWhileRevalidateMs >= 0 ? TimeSpan.FromMilliseconds(head.StaleWhileRevalidateMs) : null,
        head.StaleIfErrorMs >= 0 ? TimeSpan.FromMilliseconds(head.StaleIfErrorMs) : null);

    /// <summary>The head of a response about to be stored (its body length is final only at commit).</summary>
    public static EntryHead New(string cacheKey, HttpResponseMessage originResponse, string[] headers, in FreshnessFacts facts,
        DateTimeOffset requestTime, DateTimeOffset responseTime) => new()
    {
        CacheKey = cacheKey,
        Status = (int)originResponse.StatusCode,
        ReasonPhrase = originResponse.ReasonPhrase,
        // Fields named by private="…" / no-cache="…" are not kept (RFC 9111 5.2.2.4, 5.2.2.7).
        Headers = WithheldFields.Remove(WithoutSetCookie(headers), CacheControl.Parse(HeaderPairs.GetAll(headers, HeaderNames.CacheControl))),
        RequestTimeUnixMs = requestTime.ToUnixTimeMilliseconds(),
        ResponseTimeUnixMs = responseTime.ToUnixTimeMilliseconds(),
        LifetimeMs = (long)facts.Lifetime.TotalMilliseconds,
        InitialAgeMs = (long)facts.InitialAge.TotalMilliseconds,
        Flags = (facts.Heuristic ? EntryFlags.Heuristic : 0) | (facts.NoCache ? EntryFlags.NoCache : 0)
                | (facts.MustRevalidate ? EntryFlags.MustRevalidate : 0) | (facts.Immutable ? EntryFlags.Immutable : 0),
        StaleWhileRevalidateMs = facts.StaleWhileRevalidate is { } swr ? (long)swr.TotalMilliseconds : -1,
        StaleIfErrorMs = facts.StaleIfError is { } sie ? (long)sie.TotalMilliseconds : -1,
        BodyLength = originResponse.Content.Headers.ContentLength ?? -1,
    };

    /// <summary>The stored entry's head updated by a 304 (RFC 9111 4.3.4), with freshness recomputed.</summary>
    public static EntryHead Refreshed(EntryHead stale, string[] notModifiedHeaders, DateTimeOffset requestTime, DateTimeOffset responseTime,
        FreshnessRules rules)
    {
        var headers = Validators.MergeNotModified(stale.Headers, notModifiedHeaders);
        var cc = CacheControl.ForSharedCache(headers, rules.TargetedField);
        var lifetime = Freshness.Lifetime(stale.Status, headers, cc, rules, stale.CacheKey, responseTime, out var heuristic) ?? TimeSpan.Zero;
        return stale with
        {
            Headers = headers,
            RequestTimeUnixMs = requestTime.ToUnixTimeMilliseconds(),
            ResponseTimeUnixMs = responseTime.ToUnixTimeMilliseconds(),
            LifetimeMs = (long)lifetime.TotalMilliseconds,
            InitialAgeMs = (long)Freshness.InitialAge(headers, requestTime, responseTime).TotalMilliseconds,
            Flags = (heuristic ? EntryFlags.Heuristic : 0) | (cc.NoCache ? EntryFlags.NoCache : 0)
                    | (cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge is not null ? EntryFlags.MustRevalidate : 0)
                    | (cc.Immutable ? EntryFlags.Immutable : 0),
            StaleWhileRevalidateMs = cc.StaleWhileRevalidate is long swr ? swr * 1000 : -1,
            StaleIfErrorMs = cc.StaleIfError is long sie ? sie * 1000 : -1,
        };
    }

    /// <summary>A cookie is for the client that got it from the origin: never stored, never replayed from the cache.</summary>
    private static string[] WithoutSetCookie(string[] headers)
    {
        if (HeaderPairs.Get(headers, HeaderNames.SetCookie) is null) return headers;
        var kept = new List<string>(headers.Length);
        for (int i = 0; i + 1 < headers.Length; i += 2)
            if (!headers[i].Equals(HeaderNames.SetCookie, StringComparison.OrdinalIgnoreCase)) { kept.Add(headers[i]); kept.Add(headers[i + 1]); }
        return [.. kept];
    }
}
