namespace CacheCluster.Node.Observability;

/// <summary>What became of one proxied request, as operators count it (stats, metrics, access log).</summary>
public enum RequestOutcome { Hit, Miss, Stale, Revalidated, Collapsed, Pass, Denied, Error }

/// <summary>
/// Classifies a finished request from its status and the Cache-Status field every proxy response carries
/// (RFC 9211, built by src/Caching/CacheStatus.cs), so the request path needs no counters of its own.
/// </summary>
public static class OutcomeClassifier
{
    public static RequestOutcome Classify(int status, string? cacheStatus, bool tunnel)
    {
        if (cacheStatus is null) return tunnel && status < 400 ? RequestOutcome.Pass : status is 403 or 407 ? RequestOutcome.Denied : RequestOutcome.Error;
        var cs = cacheStatus.AsSpan();
        if (cs.Contains("; collapsed", StringComparison.Ordinal)) return RequestOutcome.Collapsed;
        if (cs.Contains("; hit", StringComparison.Ordinal))
            return cs.Contains("ttl=-", StringComparison.Ordinal) || cs.Contains("stale-while-revalidate", StringComparison.Ordinal)
                ? RequestOutcome.Stale : RequestOutcome.Hit;
        bool forwarded = cs.Contains("fwd-status=", StringComparison.Ordinal);
        if (cs.Contains("fwd=stale", StringComparison.Ordinal) && cs.Contains("stale-if-error", StringComparison.Ordinal)) return RequestOutcome.Stale;
        if (cs.Contains("fwd-status=304", StringComparison.Ordinal) && cs.Contains("; stored", StringComparison.Ordinal)) return RequestOutcome.Revalidated;
        if (cs.Contains("; stored", StringComparison.Ordinal)) return RequestOutcome.Miss;
        if (!forwarded)
        {
            // The cache answered by itself: a refusal, an error it detected, or only-if-cached.
            if (status is 403 or 407 || cs.Contains("denied", StringComparison.Ordinal) || cs.Contains("connect-port", StringComparison.Ordinal)) return RequestOutcome.Denied;
            if (cs.Contains("only-if-cached", StringComparison.Ordinal)) return RequestOutcome.Miss;
            if (status >= 400) return RequestOutcome.Error;
        }
        return RequestOutcome.Pass;
    }

    /// <summary>Squid's result code for the native access.log format.</summary>
    public static string SquidCode(RequestOutcome outcome, bool tunnel, bool hotCopy) => outcome switch
    {
        RequestOutcome.Hit => hotCopy ? "TCP_MEM_HIT" : "TCP_HIT",
        RequestOutcome.Stale => "TCP_STALE_HIT",
        RequestOutcome.Revalidated => "TCP_REFRESH_UNMODIFIED",
        RequestOutcome.Collapsed => "TCP_CF_MISS",
        RequestOutcome.Miss => "TCP_MISS",
        RequestOutcome.Denied => "TCP_DENIED",
        RequestOutcome.Error => "TCP_MISS_ABORTED",
        _ => tunnel ? "TCP_TUNNEL" : "TCP_MISS",
    };
}
