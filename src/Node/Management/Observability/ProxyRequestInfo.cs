using System.Net;

namespace CacheCluster.Node.Management.Observability;

/// <summary>How the response was obtained, as Squid's hierarchy codes say it (HIER_NONE when nothing upstream was asked).</summary>
public enum UpstreamHop : byte { None, Direct, FirstUpParent, Carp }

/// <summary>
/// Per-request facts only the request path knows, for stats and the access log: set by the proxy's steps
/// (src/Node/Proxy/Steps), by <c>ProxyErrors</c>, by the origin client (which server it reached) and by CONNECT
/// tunnels; read when the request has finished. Absent outside the proxy pipeline.
/// </summary>
public class ProxyRequestInfo
{
    // The request being served in this async flow: how the origin client, several calls below the steps, finds
    // where to note the server it reached without every caller passing it down.
    private static readonly AsyncLocal<ProxyRequestInfo?> CurrentRequest = new();

    /// <summary>The proxy request this code runs for (null outside the proxy pipeline).</summary>
    public static ProxyRequestInfo? Current { get => CurrentRequest.Value; protected set => CurrentRequest.Value = value; }

    /// <summary>Name of the node that owns the entry (answered the lookup); "hot-copy" when served from this node's memory.</summary>
    public string? Owner { get; set; }

    /// <summary>The authenticated user, once proxy authentication exists ("-" in the log otherwise).</summary>
    public string? User { get; set; }

    /// <summary>What answered the request, as counted; null when nothing recorded it (a tunnel, the server's own errors).</summary>
    public RequestOutcome? Outcome { get; set; }

    /// <summary>Squid's result code for what answered (TCP_HIT, TCP_REFRESH_FAIL_OLD, …), recorded with the outcome.</summary>
    public string? SquidCode { get; set; }

    /// <summary>The last upstream exchange: straight to the origin or through which kind of parent, and the address connected to.</summary>
    public UpstreamHop Hop { get; set; }
    public IPAddress? Peer { get; set; }

    /// <summary>A CONNECT tunnel that was set up: answered 200 on the raw connection (Kestrel's own status is not what the client saw).</summary>
    public bool TunnelEstablished { get; set; }

    /// <summary>The client is on this host's loopback (the destination guard lets it reach the host's own services).</summary>
    public bool ClientIsLocal { get; set; }

    /// <summary>TLS interception: a CONNECT that was bumped, or a request that came decrypted out of a bumped tunnel.</summary>
    public bool Bumped { get; set; }

    /// <summary>Why the proxy itself refused the request (set with the refusal; null for anything else, an origin's 403 too).</summary>
    public RejectionReason? Rejection { get; set; }

    /// <summary>The access rule that denied the request (with <see cref="RejectionReason.Rule"/>), for the dashboard's recent denials.</summary>
    public string? DeniedByRule { get; set; }

    /// <summary>The proxy itself cut the connection (a tunnel's end, an origin failing mid-body): not the client going away.</summary>
    public bool ClosedByProxy { get; set; }

    public static void SetOutcome(HttpContext ctx, RequestOutcome outcome, string? squidCode = null)
    {
        if (ctx.Features.Get<ProxyRequestInfo>() is { } info) (info.Outcome, info.SquidCode) = (outcome, squidCode);
    }

    /// <summary>Notes the upstream server a response came from (the origin client and the parent router call it).</summary>
    public static void Reached(UpstreamHop hop, IPAddress? peer)
    {
        if (Current is { } info) (info.Hop, info.Peer) = (hop, peer);
    }
}
