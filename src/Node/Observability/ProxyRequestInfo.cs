namespace CacheCluster.Node.Observability;

/// <summary>
/// Per-request facts only the request path knows, for stats and the access log: set by the proxy's steps
/// (src/Node/Proxy/Steps) and by <c>ProxyErrors</c>, read when the request has finished. Absent outside the
/// proxy pipeline.
/// </summary>
public class ProxyRequestInfo
{
    /// <summary>Name of the node that owns the entry (answered the lookup); "hot-copy" when served from this node's memory.</summary>
    public string? Owner { get; set; }

    /// <summary>The authenticated user, once proxy authentication exists ("-" in the log otherwise).</summary>
    public string? User { get; set; }

    /// <summary>What answered the request, as counted; null when nothing recorded it (a tunnel, the server's own errors).</summary>
    public RequestOutcome? Outcome { get; set; }

    public static void SetOutcome(HttpContext ctx, RequestOutcome outcome)
    {
        if (ctx.Features.Get<ProxyRequestInfo>() is { } info) info.Outcome = outcome;
    }
}
