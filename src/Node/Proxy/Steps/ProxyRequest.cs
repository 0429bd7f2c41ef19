using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// One proxied request on its way through the steps: what was asked, what the look-up found, the fill it leads
/// and the origin's answer, and finally which step answered. One object per request, in place of the locals and
/// parameters the steps would otherwise pass each other.
/// </summary>
public sealed class ProxyRequest(HttpContext context)
{
    // The stats middleware's record of this request (absent outside the proxy pipeline): looked up once.
    private readonly ProxyRequestInfo? _info = context.Features.Get<ProxyRequestInfo>();

    /// <summary>
    /// How often a request may look up again because the entry changed under it (refreshed by a fill that just
    /// ended, or the URL turned out to vary). Past it the request carries on without the cache's help.
    /// </summary>
    public const int RestartLimit = 2;

    public HttpContext Context { get; } = context;
    public HttpRequest Request => Context.Request;

    /// <summary>The step to run next (the dispatcher's state).</summary>
    public Step Step { get; set; } = Step.Receive;
    public int Restarts { get; set; }
    public bool CanRestart => Restarts < RestartLimit;

    // ---- 1. Receive ------------------------------------------------------------------------------------
    /// <summary>The URL as asked; <see cref="Target"/> becomes the variant's key when the URL varies.</summary>
    public RequestTarget UrlTarget { get; set; } = null!;
    public RequestTarget Target { get; set; } = null!;
    public CacheControl RequestCc { get; set; } = CacheControl.Empty;
    public bool PragmaNoCache { get; set; }
    /// <summary>GET or HEAD: may be answered from the cache.</summary>
    public bool Cacheable { get; set; }
    /// <summary>Only a GET that allows storing may fill the cache (and so lead or follow a fill).</summary>
    public bool MayFill { get; set; }

    // ---- 3. Look up ------------------------------------------------------------------------------------
    public ICacheEntryGrain? Owner { get; set; }
    public LookupResult? Found { get; set; }
    /// <summary>This node's key, passed with the look-up when the node should take a hot copy.</summary>
    public string? HotNode { get; set; }
    public DateTime LookupStarted { get; set; }
    public VaryContext? Varies { get; set; }
    public FillRole? Role { get; set; }
    /// <summary>A stored entry too old to serve as it is: refetched, or revalidated when it has validators.</summary>
    public EntryHead? Stale { get; set; }
    /// <summary>Age and remaining freshness of the entry the look-up judged.</summary>
    public TimeSpan Age { get; set; }
    public TimeSpan Ttl { get; set; }
    public ForwardReason Reason { get; set; } = ForwardReason.Method;

    // ---- 4″. Encode ------------------------------------------------------------------------------------
    /// <summary>The content coding this request gets for a fresh compressible entry (br, gzip); null: identity.</summary>
    public string? Coding { get; set; }
    /// <summary>The identity entry from this node's hot copy, when that is what the look-up found.</summary>
    public HotEntries.HotEntry? HotIdentity { get; set; }

    // ---- 6. Fetch / 7. Store ---------------------------------------------------------------------------
    /// <summary>
    /// The fill this request leads (it fetches for every request collapsed onto it); after the store step placed
    /// a varying response, the fill of its variant (the URL's own fill then ended with the Vary marker).
    /// </summary>
    public FillLeader? Fill { get; set; }
    public HttpRequestMessage? Upstream { get; set; }
    public CancellationTokenSource? OriginTimeout { get; set; }
    public HttpResponseMessage? OriginResponse { get; set; }
    public bool Revalidating { get; set; }
    public DateTimeOffset RequestTime { get; set; }
    public DateTimeOffset ResponseTime { get; set; }
    /// <summary>The origin response's end-to-end headers as flat pairs (what is forwarded and stored).</summary>
    public string[] ResponseHeaders { get; set; } = [];
    public int OriginStatus { get; set; }
    public BodyFraming Framing { get; set; }
    public (int Status, string Message) OriginError { get; set; }
    public bool Storing { get; set; }
    public FreshnessFacts StoredFacts { get; set; }
    public string? NotStored { get; set; }

    // ---- The answer ------------------------------------------------------------------------------------
    public Answer Answer { get; private set; }

    /// <summary>
    /// Records which step answered (for stats and the access log) and returns its Cache-Status value. Called
    /// as the response head is written, so a response cut off later still counts as what it began as.
    /// </summary>
    public string Answered(in Answer answer, string cacheName)
    {
        Answer = answer;
        if (_info is { } info) (info.Outcome, info.SquidCode) = (answer.Outcome, SquidCodes.Of(answer));
        return answer.CacheStatus(cacheName);
    }

    /// <summary>Answers with an error the cache detected itself (when the response has not begun: else the connection is cut).</summary>
    public Task FailAsync(int status, string message, in Answer answer, string cacheName)
    {
        if (!Context.Response.HasStarted) Answer = answer;
        return ProxyErrors.WriteAsync(Context, status, message, answer.CacheStatus(cacheName), answer.Outcome, SquidCodes.Of(answer),
            answer.Refusal(status));
    }

    /// <summary>Forgets the answer (the request failed before its response began: the server answers 500).</summary>
    public void Unanswered()
    {
        Answer = default;
        if (_info is { } info) (info.Outcome, info.SquidCode) = (null, null);
    }

    /// <summary>Records the owner that answered the look-up, for the access log ("hot-copy": this node's memory).</summary>
    public void AnsweredFrom(string? owner)
    {
        if (_info is { } info) info.Owner = owner;
    }

    /// <summary>Resets what a look-up found, before looking up again.</summary>
    public void ForgetLookup()
    {
        Target = UrlTarget;
        (Role, Stale, Varies, Found, HotNode, Coding, HotIdentity) = (null, null, null, null, null, null, null);
    }

    /// <summary>Releases the origin exchange (before fetching again, and when the request ends).</summary>
    public void ReleaseOrigin()
    {
        OriginResponse?.Dispose();
        OriginTimeout?.Dispose();
        Upstream?.Dispose();
        (OriginResponse, OriginTimeout, Upstream) = (null, null, null);
    }
}
