using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Management.Observability;

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

    /// <summary>Bounds (seconds) of the client request duration histogram: a memory hit to a long download.</summary>
    public static readonly double[] DurationBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    // Requests (not tunnels: a tunnel's duration is its life) per duration bucket, for the dashboard's percentiles.
    private readonly long[] _durations = new long[DurationBounds.Length];

    /// <summary>Requests per duration bucket so far (<see cref="NodeCounterValues.ClientLatencyBuckets"/>).</summary>
    public long[] DurationBuckets()
    {
        var copy = new long[_durations.Length];
        for (int i = 0; i < copy.Length; i++) copy[i] = Interlocked.Read(ref _durations[i]);
        return copy;
    }

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

    public void Finished(RequestOutcome outcome, int status, RejectionReason? rejection, bool tunnel, TimeSpan elapsed)
    {
        Interlocked.Decrement(ref _inFlight);
        if (tunnel) Interlocked.Decrement(ref _tunnelsOpen);
        Interlocked.Increment(ref _statusClasses[status / 100 is var c and >= 1 and <= 5 ? c : 0]);
        if (rejection is { } reason) Interlocked.Increment(ref _rejections[(int)reason]);
        double seconds = elapsed.TotalSeconds;
        if (!tunnel)
        {
            int bucket = Array.BinarySearch(DurationBounds, seconds);
            bucket = bucket >= 0 ? bucket : Math.Min(~bucket, DurationBounds.Length - 1);
            Interlocked.Increment(ref _durations[bucket]);
        }
        DurationObserved?.Invoke(outcome, seconds);
    }
}
