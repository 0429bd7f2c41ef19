using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// This node's request counters since start: lock-free increments from the stats middleware and the origin
/// meter, read by the management API and /metrics.
/// </summary>
public sealed class ProxyCounters
{
    /// <summary>Upper bounds (seconds) of the origin latency histogram buckets.</summary>
    public static readonly double[] LatencyBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly long[] _outcomes = new long[Enum.GetValues<RequestOutcome>().Length];
    private readonly long[] _latencyBuckets = new long[LatencyBounds.Length];
    private long _bytesToClients, _bytesFromOrigins, _originFetches, _latencyMicros;
    private readonly long[] _bodyAborts = new long[Enum.GetValues<BodyAbortCause>().Length];
    private long _bodyContinuations;

    /// <summary>A response cut off after its headers went out (the client sees a short body), by cause.</summary>
    public void BodyAborted(BodyAbortCause cause) => Interlocked.Increment(ref _bodyAborts[(int)cause]);

    public long BodyAborts(BodyAbortCause cause) => Interlocked.Read(ref _bodyAborts[(int)cause]);

    /// <summary>A hit whose stored body broke off mid-delivery and was finished from the origin (If-Range).</summary>
    public void BodyContinued() => Interlocked.Increment(ref _bodyContinuations);

    public long BodyContinuations => Interlocked.Read(ref _bodyContinuations);

    public void Count(RequestOutcome outcome, long bytesToClient)
    {
        Interlocked.Increment(ref _outcomes[(int)outcome]);
        if (bytesToClient > 0) Interlocked.Add(ref _bytesToClients, bytesToClient);
    }

    /// <summary>Also told every origin latency (the Prometheus histogram).</summary>
    public Action<double>? LatencyObserved { get; set; }

    public void OriginFetch(TimeSpan latency)
    {
        LatencyObserved?.Invoke(latency.TotalSeconds);
        Interlocked.Increment(ref _originFetches);
        Interlocked.Add(ref _latencyMicros, (long)(latency.TotalMilliseconds * 1000));
        var seconds = latency.TotalSeconds;
        for (int i = 0; i < LatencyBounds.Length; i++)
            if (seconds <= LatencyBounds[i]) { Interlocked.Increment(ref _latencyBuckets[i]); break; }
    }

    public void OriginBytes(long n) => Interlocked.Add(ref _bytesFromOrigins, n);

    public long Outcome(RequestOutcome outcome) => Interlocked.Read(ref _outcomes[(int)outcome]);

    public NodeCounterValues Snapshot(long storeBytes, long storeEntries, long evictions)
    {
        // Buckets are cumulative in the API (like Prometheus): bucket i counts fetches <= bound i.
        var cumulative = new long[LatencyBounds.Length];
        long running = 0;
        for (int i = 0; i < cumulative.Length; i++) cumulative[i] = running += Interlocked.Read(ref _latencyBuckets[i]);
        return new NodeCounterValues
        {
            Hit = Outcome(RequestOutcome.Hit),
            Miss = Outcome(RequestOutcome.Miss),
            Stale = Outcome(RequestOutcome.Stale),
            Revalidated = Outcome(RequestOutcome.Revalidated),
            Collapsed = Outcome(RequestOutcome.Collapsed),
            Pass = Outcome(RequestOutcome.Pass),
            Denied = Outcome(RequestOutcome.Denied),
            Error = Outcome(RequestOutcome.Error),
            BytesToClients = Interlocked.Read(ref _bytesToClients),
            BytesFromOrigins = Interlocked.Read(ref _bytesFromOrigins),
            OriginFetches = Interlocked.Read(ref _originFetches),
            OriginLatencySecondsSum = Interlocked.Read(ref _latencyMicros) / 1e6,
            OriginLatencyBounds = LatencyBounds,
            OriginLatencyBuckets = cumulative,
            StoreBytes = storeBytes,
            StoreEntries = storeEntries,
            Evictions = evictions,
        };
    }

    /// <summary>Served from the cache (fresh or stale) among requests that could have been: hit, stale, miss, revalidated, collapsed, pass.</summary>
    public static double HitRatio(NodeCounterValues c)
    {
        long cacheable = c.Hit + c.Stale + c.Miss + c.Revalidated + c.Collapsed + c.Pass;
        return cacheable == 0 ? 0 : (double)(c.Hit + c.Stale) / cacheable;
    }
}

/// <summary>Why a response was cut off mid-body.</summary>
public enum BodyAbortCause
{
    /// <summary>A stored chunk was unreadable (evicted, corrupt) and the origin could not finish the body.</summary>
    StoreChunkMissing,
    /// <summary>The owner node stopped answering mid-body and the origin could not finish it.</summary>
    OwnerUnreachable,
    /// <summary>A collapsed request's fill was lost (the leader's origin or node failed mid-body).</summary>
    FillLost,
}
