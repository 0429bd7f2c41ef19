namespace CacheCluster.Node.Management.Observability;

/// <summary>What became of one proxied request, as operators count it (stats, metrics, access log).</summary>
public enum RequestOutcome { Hit, Miss, Stale, Revalidated, Collapsed, Pass, Denied, Error }

/// <summary>
/// The outcome of a request nothing recorded one for, and Squid's codes. The request path records its outcome
/// as data (src/Node/Proxy/Steps/Answer.cs), and so do the refusals written by ProxyErrors; what is left is a
/// CONNECT tunnel that was set up and the server's own errors. Squid's codes: src/Node/Management/AccessLog/SquidCodes.cs.
/// </summary>
public static class OutcomeClassifier
{
    public static RequestOutcome Unrecorded(int status, bool tunnel) =>
        tunnel && status < 400 ? RequestOutcome.Pass : status is 403 or 407 ? RequestOutcome.Denied : RequestOutcome.Error;
}
