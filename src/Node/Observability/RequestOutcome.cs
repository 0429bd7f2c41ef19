namespace CacheCluster.Node.Observability;

/// <summary>What became of one proxied request, as operators count it (stats, metrics, access log).</summary>
public enum RequestOutcome { Hit, Miss, Stale, Revalidated, Collapsed, Pass, Denied, Error }

/// <summary>
/// The outcome of a request nothing recorded one for, and Squid's codes. The request path records its outcome
/// as data (src/Node/Proxy/Steps/Answer.cs), and so do the refusals written by ProxyErrors; what is left is a
/// CONNECT tunnel that was set up and the server's own errors.
/// </summary>
public static class OutcomeClassifier
{
    public static RequestOutcome Unrecorded(int status, bool tunnel) =>
        tunnel && status < 400 ? RequestOutcome.Pass : status is 403 or 407 ? RequestOutcome.Denied : RequestOutcome.Error;

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
