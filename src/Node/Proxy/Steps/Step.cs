namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// The steps of a proxied request, in the order the dispatcher (<see cref="ProxyHandler"/>) usually runs them.
/// Each step does one thing and names the next one; the numbers match docs/architecture.md, "A request's path".
/// </summary>
public enum Step
{
    /// <summary>1. What is asked for: CONNECT goes to the tunnel, a bad target is refused, the rest is parsed.</summary>
    Receive,
    /// <summary>1′. HTTP PURGE: removes the URL (or a prefix, or surrogate keys) cluster-wide; never forwarded.</summary>
    Purge,
    /// <summary>3a. This node's hot copy of a popular entry, if fresh enough: no owner round trip.</summary>
    HotCopy,
    /// <summary>3b. Ask the entry's owner (and, for a URL that varies, the owner of this request's variant).</summary>
    LookUp,
    /// <summary>4. A fresh stored entry: delivered from its owner.</summary>
    Hit,
    /// <summary>4″. A fresh compressible entry for a client accepting br/gzip: its stored compressed form (made once if need be).</summary>
    Encode,
    /// <summary>4′. A stale entry that stale-while-revalidate allows: delivered now, revalidated in the background.</summary>
    ServeStale,
    /// <summary>5a. A stale entry that must be refetched or revalidated: ask its owner for the fill.</summary>
    Expired,
    /// <summary>5b. Nothing usable stored: only-if-cached refuses, a follower follows, everyone else fetches.</summary>
    Miss,
    /// <summary>5c. Collapsed: another request (on any node) is fetching this URL already; stream its fill.</summary>
    Follow,
    /// <summary>6. Send the request to the origin (a revalidation when a stale entry has validators).</summary>
    Fetch,
    /// <summary>6′. The origin could not be reached: a stale entry may stand in, else 502/504.</summary>
    OriginFailed,
    /// <summary>6″. The origin answered 304 to our validators: the stored entry is refreshed and served.</summary>
    Revalidated,
    /// <summary>7. Store? Decided from the response before any byte goes to the client; followers told.</summary>
    Store,
    /// <summary>8. Deliver: status and headers, then the body streamed to the client (and to the fill).</summary>
    Deliver,
    /// <summary>The entry changed under us (refreshed, or the URL turned out to vary): look up again.</summary>
    Restart,
    /// <summary>The request has been answered.</summary>
    Done,
}
