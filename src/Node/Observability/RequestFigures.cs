namespace CacheCluster.Node.Observability;

/// <summary>Why the proxy itself refused a request (not an origin's 403), for cachecluster_rejections_total.</summary>
public enum RejectionReason { Rule, Auth, Rate, Guard, ConnectPort, Other }

/// <summary>
/// Per-request figures beyond the outcome counts: requests in flight, CONNECT tunnels open, responses by status
/// class, the proxy's own refusals by reason, and the client-side duration (hooked to a Prometheus histogram).
/// Fed by <see cref="StatsMiddleware"/>; lock-free.
/// </summary>
public sealed class RequestFigures
{
    private readonly long[] _statusClasses = new long[6]; // index 1..5: 1xx..5xx; 0: anything else
    private readonly long[] _rejections = new long[Enum.GetValues<RejectionReason>().Length];
    private long _inFlight, _tunnelsOpen;

    /// <summary>Told every finished request's duration (from the first byte of its request to its last byte sent).</summary>
    public Action<RequestOutcome, double>? DurationObserved { get; set; }

    public long InFlight => Interlocked.Read(ref _inFlight);
    public long TunnelsOpen => Interlocked.Read(ref _tunnelsOpen);
    public long StatusClass(int hundreds) => Interlocked.Read(ref _statusClasses[hundreds is >= 1 and <= 5 ? hundreds : 0]);
    public long Rejections(RejectionReason reason) => Interlocked.Read(ref _rejections[(int)reason]);

    public void Started(bool tunnel)
    {
        Interlocked.Increment(ref _inFlight);
        if (tunnel) Interlocked.Increment(ref _tunnelsOpen);
    }

    public void Finished(RequestOutcome outcome, int status, string? cacheStatus, bool tunnel, TimeSpan elapsed)
    {
        Interlocked.Decrement(ref _inFlight);
        if (tunnel) Interlocked.Decrement(ref _tunnelsOpen);
        Interlocked.Increment(ref _statusClasses[status / 100 is var c and >= 1 and <= 5 ? c : 0]);
        if (Rejection(status, cacheStatus) is { } reason) Interlocked.Increment(ref _rejections[(int)reason]);
        DurationObserved?.Invoke(outcome, elapsed.TotalSeconds);
    }

    /// <summary>The proxy's own refusals: 403/407/429 that it answered itself (no fwd-status: not an origin's).</summary>
    public static RejectionReason? Rejection(int status, string? cacheStatus)
    {
        if (status is not (403 or 407 or 429)) return null;
        var cs = cacheStatus ?? "";
        if (cs.Contains("fwd-status=", StringComparison.Ordinal)) return null;
        if (status == 407) return RejectionReason.Auth;
        if (status == 429) return RejectionReason.Rate;
        // The destination guard: CONNECT says destination-refused; plain HTTP a 403 without an origin answer.
        if (cs.Contains("destination-refused", StringComparison.Ordinal) || cs.Contains("origin-unreachable", StringComparison.Ordinal)) return RejectionReason.Guard;
        if (cs.Contains("connect-port", StringComparison.Ordinal)) return RejectionReason.ConnectPort;
        if (cs.Contains("denied", StringComparison.Ordinal)) return RejectionReason.Rule;
        return RejectionReason.Other;
    }
}
