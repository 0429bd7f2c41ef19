namespace CacheCluster.Caching;

/// <summary>Why a request went forward to the origin (RFC 9211 2.2 fwd parameter).</summary>
public enum ForwardReason { None, Bypass, Method, UriMiss, VaryMiss, Miss, Request, Stale }

/// <summary>Builds the RFC 9211 Cache-Status field value for our cache.</summary>
public static class CacheStatus
{
    public static string Hit(string cacheName, TimeSpan ttl) =>
        $"{cacheName}; hit; ttl={(long)Math.Floor(ttl.TotalSeconds)}";

    public static string Forward(string cacheName, ForwardReason reason, int? fwdStatus, bool stored, TimeSpan? ttl, string? detail = null)
    {
        var sb = new System.Text.StringBuilder(64);
        sb.Append(cacheName).Append("; fwd=").Append(Token(reason));
        if (fwdStatus is int s) sb.Append("; fwd-status=").Append(s);
        if (stored) sb.Append("; stored");
        if (ttl is { } t) sb.Append("; ttl=").Append((long)Math.Floor(t.TotalSeconds));
        if (detail is not null) sb.Append("; detail=\"").Append(detail).Append('"');
        return sb.ToString();
    }

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
