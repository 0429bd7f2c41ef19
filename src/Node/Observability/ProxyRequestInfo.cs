namespace CacheCluster.Node.Observability;

/// <summary>
/// Per-request facts only the request path knows, for the access log: set by ProxyHandler (a line or two),
/// read when the request has finished. Absent outside the proxy pipeline.
/// </summary>
public class ProxyRequestInfo
{
    /// <summary>Name of the node that owns the entry (answered the lookup); "hot-copy" when served from this node's memory.</summary>
    public string? Owner { get; set; }

    /// <summary>The authenticated user, once proxy authentication exists ("-" in the log otherwise).</summary>
    public string? User { get; set; }

    public static void SetOwner(HttpContext ctx, string? owner)
    {
        if (ctx.Features.Get<ProxyRequestInfo>() is { } info) info.Owner = owner;
    }
}
