using CacheCluster.Caching;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy.Steps;

namespace CacheCluster.Node.Management.AccessLog;

/// <summary>
/// Squid 5–6 result codes (%Ss) and hierarchy codes (%Sh), so log analysers written for Squid count our lines
/// as they count Squid's (see Squid's LogTags.cc and hier_code.h).
/// </summary>
public static class SquidCodes
{
    /// <summary>The result code for what answered a proxied request.</summary>
    public static string Of(in Answer answer) => answer.By switch
    {
        AnsweredBy.HotCopy => "TCP_MEM_HIT",
        // Squid has no stale-while-revalidate; a stored copy served without asking the origin is its TCP_HIT.
        AnsweredBy.Hit or AnsweredBy.StaleWhileRevalidate => "TCP_HIT",
        AnsweredBy.StaleOnError => "TCP_REFRESH_FAIL_OLD",
        AnsweredBy.Revalidated => "TCP_REFRESH_UNMODIFIED",
        AnsweredBy.MissStored when answer.FwdStatus == 304 => "TCP_REFRESH_UNMODIFIED",
        AnsweredBy.MissStored or AnsweredBy.MissNotStored when answer.Reason == ForwardReason.Stale => "TCP_REFRESH_MODIFIED",
        AnsweredBy.MissStored or AnsweredBy.MissNotStored when answer.Reason == ForwardReason.Request => "TCP_CLIENT_REFRESH_MISS",
        // Squid marks a request that joined another's fetch (collapsed forwarding) with CF_.
        AnsweredBy.Follower or AnsweredBy.FollowerError => "TCP_CF_MISS",
        AnsweredBy.BadRequest => "NONE_NONE",
        _ => "TCP_MISS",
    };

    /// <summary>The result code when nothing recorded one: a tunnel, a refusal, the server's own errors.</summary>
    public static string Unrecorded(RequestOutcome outcome, bool tunnel, int status) => outcome switch
    {
        RequestOutcome.Denied => "TCP_DENIED",
        RequestOutcome.Hit => "TCP_HIT",
        RequestOutcome.Stale => "TCP_HIT",
        RequestOutcome.Revalidated => "TCP_REFRESH_UNMODIFIED",
        RequestOutcome.Collapsed => "TCP_CF_MISS",
        RequestOutcome.Miss => "TCP_MISS",
        RequestOutcome.Pass when tunnel => "TCP_TUNNEL",
        RequestOutcome.Pass => "TCP_MISS",
        // A request refused before any upstream was tried (malformed, CONNECT that could not be set up): Squid's NONE_NONE.
        _ => "NONE_NONE",
    };

    /// <summary>Squid's hierarchy code for how the response was obtained.</summary>
    public static string Hierarchy(UpstreamHop hop) => hop switch
    {
        UpstreamHop.Direct => "HIER_DIRECT",
        UpstreamHop.FirstUpParent => "FIRSTUP_PARENT",
        UpstreamHop.Carp => "CARP",
        _ => "HIER_NONE",
    };
}
