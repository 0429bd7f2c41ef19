using System.Text;
namespace CacheCluster.Caching;

/// <summary>Why a request went forward to the origin (RFC 9211 2.2 fwd parameter).</summary>
public enum ForwardReason { None, Bypass, Method, UriMiss, VaryMiss, Miss, Request, Stale }

/// <summary>Builds the RFC 9211 Cache-Status field value for our cache.</summary>
public static class CacheStatus
{
    public static string Hit(string cacheName, TimeSpan ttl)
    {
        long seconds = (long)Math.Floor(ttl.TotalSeconds);
        // Every hit on an entry within the same second says the same thing: keep the last string per slot.
        var slot = (int)((ulong)seconds % (ulong)RecentHits.Length);
        var recent = RecentHits[slot];
        if (recent is not null && recent.Seconds == seconds && ReferenceEquals(recent.CacheName, cacheName)) return recent.Value;
        var value = $"{cacheName}; hit; ttl={seconds}";
        RecentHits[slot] = new RecentHit(cacheName, seconds, value);
        return value;
    }

    private sealed record RecentHit(string CacheName, long Seconds, string Value);
    private static readonly RecentHit?[] RecentHits = new RecentHit?[4096];

    public static string Forward(string cacheName, ForwardReason reason, int? fwdStatus, bool stored, TimeSpan? ttl, string? detail = null)
    {
        var sb = new StringBuilder(64);
        sb.Append(cacheName).Append("; fwd=").Append(Token(reason));
        if (fwdStatus is int s) sb.Append("; fwd-status=").Append(s);
        if (stored) sb.Append("; stored");
        if (ttl is { } t) sb.Append("; ttl=").Append((long)Math.Floor(t.TotalSeconds));
        if (detail is not null) sb.Append("; detail=\"").Append(detail).Append('"');
        return sb.ToString();
    }

    /// <summary>
    /// A stale entry served from the cache while it is revalidated in the background (RFC 9211 2.1 hit,
    /// 2.4 ttl: negative when stale): <c>Name; hit; ttl=-12; detail="stale-while-revalidate"</c>.
    /// </summary>
    public static string StaleHit(string cacheName, TimeSpan ttl, string detail = "stale-while-revalidate") =>
        $"{cacheName}; hit; ttl={(long)Math.Floor(ttl.TotalSeconds)}; detail=\"{detail}\"";

    /// <summary>
    /// A stored entry served because the forward failed (RFC 9211 2.2 fwd=stale, 2.3 fwd-status when the origin
    /// answered): <c>Name; fwd=stale; fwd-status=503; ttl=-12; detail="stale-if-error"</c>.
    /// </summary>
    public static string StaleOnError(string cacheName, int? fwdStatus, TimeSpan ttl, string detail = "stale-if-error") =>
        Forward(cacheName, ForwardReason.Stale, fwdStatus, false, ttl, detail);

    /// <summary>A response the cache produced itself without forwarding (an error it detected, a refusal).</summary>
    public static string Local(string cacheName, string detail) => $"{cacheName}; detail=\"{detail}\"";

    public static string Token(ForwardReason reason) => reason switch
    {
        ForwardReason.Bypass => "bypass",
        ForwardReason.Method => "method",
        ForwardReason.UriMiss => "uri-miss",
        ForwardReason.VaryMiss => "vary-miss",
        ForwardReason.Request => "request",
        ForwardReason.Stale => "stale",
        _ => "miss",
    };
}
