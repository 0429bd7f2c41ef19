namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// The entry changed under the request (refreshed or replaced by a fill that just ended, or the URL turned out to
/// vary): forget what the look-up found and look up again, at most <see cref="ProxyRequest.RestartLimit"/> times
/// (the steps that restart check <see cref="ProxyRequest.CanRestart"/> and otherwise carry on uncached).
/// </summary>
public static class RestartStep
{
    public static Step Run(ProxyRequest r)
    {
        r.Restarts++;
        r.ForgetLookup();
        return Step.HotCopy;
    }
}
