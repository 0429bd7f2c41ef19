using CacheCluster.Caching;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>Which step answered a request.</summary>
public enum AnsweredBy : byte
{
    None,
    /// <summary>This node's hot copy, judged fresh (or allowed stale by the request).</summary>
    HotCopy,
    /// <summary>The owner's stored entry, judged fresh (or allowed stale by the request).</summary>
    Hit,
    /// <summary>A stale entry served while it is revalidated in the background (RFC 5861 3).</summary>
    StaleWhileRevalidate,
    /// <summary>A stale entry served because the origin failed (RFC 5861 4, RFC 9111 4.2.4).</summary>
    StaleOnError,
    /// <summary>The origin confirmed the stored entry with a 304; the refreshed entry was served.</summary>
    Revalidated,
    /// <summary>A collapsed request streamed another request's fill.</summary>
    Follower,
    /// <summary>A collapsed request got the same origin error as the fill it followed.</summary>
    FollowerError,
    /// <summary>Fetched from the origin and stored.</summary>
    MissStored,
    /// <summary>Fetched from the origin and passed on without storing (not storable, unsafe method, owner unreachable).</summary>
    MissNotStored,
    /// <summary>only-if-cached was asked and nothing usable is stored: 504.</summary>
    OnlyIfCached,
    /// <summary>The origin could not be reached (502) or did not answer in time (504).</summary>
    OriginError,
    /// <summary>The entry changed while our revalidation was under way: the client is told to retry (503).</summary>
    RevalidationRaced,
    /// <summary>The request target could not be understood (400).</summary>
    BadRequest,
    /// <summary>An HTTP PURGE carried out: 200 with the count, or 404 when nothing was cached (Detail says which).</summary>
    Purged,
    /// <summary>An HTTP PURGE from a client Access:PurgeFrom does not name (403).</summary>
    PurgeRefused,
}

/// <summary>
/// What answered a request, as data: the Cache-Status field (RFC 9211, built by src/Caching/CacheStatus.cs) and
/// the outcome counted by stats and the access log both come from it, so nothing reads the header back.
/// </summary>
public readonly record struct Answer(AnsweredBy By, ForwardReason Reason = ForwardReason.None, int? FwdStatus = null,
    TimeSpan? Ttl = null, string? Detail = null)
{
    public string CacheStatus(string cacheName) => By switch
    {
        AnsweredBy.HotCopy or AnsweredBy.Hit => Detail is null ? Caching.CacheStatus.Hit(cacheName, Ttl ?? TimeSpan.Zero)
            : Caching.CacheStatus.Hit(cacheName, Ttl ?? TimeSpan.Zero) + "; detail=\"" + Detail + "\"",
        AnsweredBy.StaleWhileRevalidate => Caching.CacheStatus.StaleHit(cacheName, Ttl ?? TimeSpan.Zero),
        AnsweredBy.StaleOnError => Caching.CacheStatus.StaleOnError(cacheName, FwdStatus, Ttl ?? TimeSpan.Zero),
        AnsweredBy.Revalidated => Caching.CacheStatus.Forward(cacheName, Reason, 304, true, Ttl),
        AnsweredBy.Follower => Caching.CacheStatus.Forward(cacheName, Reason, FwdStatus, false, Ttl) + "; collapsed",
        AnsweredBy.FollowerError => Caching.CacheStatus.Forward(cacheName, Reason, null, false, null, "collapsed-error") + "; collapsed",
        AnsweredBy.MissStored => Caching.CacheStatus.Forward(cacheName, Reason, FwdStatus, true, Ttl),
        AnsweredBy.MissNotStored => Caching.CacheStatus.Forward(cacheName, Reason, FwdStatus, false, null, Detail),
        AnsweredBy.OnlyIfCached => Caching.CacheStatus.Forward(cacheName, Reason, null, false, null, "only-if-cached"),
        AnsweredBy.OriginError => Caching.CacheStatus.Forward(cacheName, Reason, null, false, null, Detail),
        AnsweredBy.RevalidationRaced => Caching.CacheStatus.Forward(cacheName, Reason, 304, false, null, "revalidation-raced"),
        AnsweredBy.Purged or AnsweredBy.PurgeRefused => Caching.CacheStatus.Local(cacheName, Detail ?? "purge"),
        _ => Caching.CacheStatus.Local(cacheName, Detail ?? "bad-request"),
    };

    /// <summary>The proxy's own refusal among the errors a step answers with (an origin's 403 is none).</summary>
    public RejectionReason? Refusal(int status) => By switch
    {
        AnsweredBy.PurgeRefused => RejectionReason.Rule,
        AnsweredBy.OriginError when status == 403 => RejectionReason.Guard, // the destination guard refused the origin's address
        _ => null,
    };

    /// <summary>How operators count it (stats, metrics, access log).</summary>
    public RequestOutcome Outcome => By switch
    {
        // A hit the request allowed although stale (max-stale) counts as stale, as its negative ttl says.
        AnsweredBy.HotCopy or AnsweredBy.Hit => Ttl is { } ttl && ttl < TimeSpan.Zero ? RequestOutcome.Stale : RequestOutcome.Hit,
        AnsweredBy.StaleWhileRevalidate or AnsweredBy.StaleOnError => RequestOutcome.Stale,
        AnsweredBy.Revalidated => RequestOutcome.Revalidated,
        AnsweredBy.Follower or AnsweredBy.FollowerError => RequestOutcome.Collapsed,
        AnsweredBy.MissStored => FwdStatus == 304 ? RequestOutcome.Revalidated : RequestOutcome.Miss,
        AnsweredBy.OnlyIfCached => RequestOutcome.Miss,
        // Forwarded and passed on (whatever its status), and the 503 of a raced revalidation the origin did answer.
        AnsweredBy.MissNotStored or AnsweredBy.RevalidationRaced => RequestOutcome.Pass,
        // Squid logs a PURGE as TCP_MISS/200 (or /404): neither a hit nor a cache miss for the hit ratio.
        AnsweredBy.Purged => RequestOutcome.Pass,
        AnsweredBy.PurgeRefused => RequestOutcome.Denied,
        _ => RequestOutcome.Error,
    };
}
