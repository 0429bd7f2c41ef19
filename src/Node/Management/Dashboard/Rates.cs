using System.Text.Json.Serialization;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// Per-second rates between two counter snapshots of a node (or their sum over the cluster), and the ratios
/// and origin and client latency percentiles over that interval. A counter that went down (the node restarted) counts as 0.
/// </summary>
public sealed record Rates
{
    public double Hit { get; init; }
    public double Miss { get; init; }
    public double Stale { get; init; }
    public double Revalidated { get; init; }
    public double Collapsed { get; init; }
    public double Pass { get; init; }
    public double Denied { get; init; }
    public double Error { get; init; }
    public double BytesToClients { get; init; }
    public double BytesFromOrigins { get; init; }
    public double Evictions { get; init; }
    public double OriginFetches { get; init; }
    public double OriginLatencySum { get; init; }
    /// <summary>Origin fetches per second by latency bucket (not cumulative), bounds as <see cref="ProxyCounters.LatencyBounds"/>.</summary>
    [JsonIgnore] public double[] LatencyBuckets { get; init; } = new double[ProxyCounters.LatencyBounds.Length];

    /// <summary>Client requests per second by duration bucket, bounds as <see cref="RequestFigures.DurationBounds"/>.</summary>
    [JsonIgnore] public double[] ClientLatencyBuckets { get; init; } = new double[RequestFigures.DurationBounds.Length];

    public double Requests => Hit + Miss + Stale + Revalidated + Collapsed + Pass + Denied + Error;

    /// <summary>As <see cref="ProxyCounters.HitRatio"/>, over this interval; null when nothing cacheable came.</summary>
    public double? HitRatio => Hit + Stale + Miss + Revalidated + Collapsed + Pass is var n and > 0 ? (Hit + Stale) / n : null;

    /// <summary>Share of the bytes sent to clients that did not come from origins; null when nothing was sent.</summary>
    public double? ByteHitRatio => BytesToClients > 0 ? Math.Clamp(1 - BytesFromOrigins / BytesToClients, 0, 1) : null;

    public double? OriginLatencyMeanMs => OriginFetches > 0 ? OriginLatencySum / OriginFetches * 1000 : null;
    public double? OriginLatencyP50Ms => Percentile(LatencyBuckets, ProxyCounters.LatencyBounds, 0.5);
    public double? OriginLatencyP99Ms => Percentile(LatencyBuckets, ProxyCounters.LatencyBounds, 0.99);
    /// <summary>Client-side: from a request's start to its last byte sent (CONNECT tunnels excluded).</summary>
    public double? ClientLatencyP50Ms => Percentile(ClientLatencyBuckets, RequestFigures.DurationBounds, 0.5);
    public double? ClientLatencyP99Ms => Percentile(ClientLatencyBuckets, RequestFigures.DurationBounds, 0.99);

    /// <summary>The upper bound of the bucket the quantile falls in (as coarse as the histogram).</summary>
    private static double? Percentile(double[] buckets, double[] bounds, double q)
    {
        double total = buckets.Sum();
        if (total <= 0) return null;
        double running = 0;
        for (int i = 0; i < buckets.Length; i++)
            if ((running += buckets[i]) >= q * total) return bounds[i] * 1000;
        return bounds[^1] * 1000;
    }

    public static Rates Between(NodeCounterValues a, NodeCounterValues b, double seconds)
    {
        double R(long before, long after) => after >= before ? (after - before) / seconds : 0;
        var buckets = new double[ProxyCounters.LatencyBounds.Length];
        // The API's buckets are cumulative: difference them back into per-bucket counts.
        if (a.OriginLatencyBuckets.Length == buckets.Length && b.OriginLatencyBuckets.Length == buckets.Length)
            for (int i = 0; i < buckets.Length; i++)
            {
                long before = a.OriginLatencyBuckets[i] - (i > 0 ? a.OriginLatencyBuckets[i - 1] : 0);
                long after = b.OriginLatencyBuckets[i] - (i > 0 ? b.OriginLatencyBuckets[i - 1] : 0);
                buckets[i] = R(before, after);
            }
        var client = new double[RequestFigures.DurationBounds.Length];
        if (a.ClientLatencyBuckets.Length == client.Length && b.ClientLatencyBuckets.Length == client.Length)
            for (int i = 0; i < client.Length; i++) client[i] = R(a.ClientLatencyBuckets[i], b.ClientLatencyBuckets[i]);
        return new Rates
        {
            ClientLatencyBuckets = client,
            Hit = R(a.Hit, b.Hit), Miss = R(a.Miss, b.Miss), Stale = R(a.Stale, b.Stale), Revalidated = R(a.Revalidated, b.Revalidated),
            Collapsed = R(a.Collapsed, b.Collapsed), Pass = R(a.Pass, b.Pass), Denied = R(a.Denied, b.Denied), Error = R(a.Error, b.Error),
            BytesToClients = R(a.BytesToClients, b.BytesToClients), BytesFromOrigins = R(a.BytesFromOrigins, b.BytesFromOrigins),
            Evictions = R(a.Evictions, b.Evictions), OriginFetches = R(a.OriginFetches, b.OriginFetches),
            OriginLatencySum = b.OriginLatencySecondsSum >= a.OriginLatencySecondsSum ? (b.OriginLatencySecondsSum - a.OriginLatencySecondsSum) / seconds : 0,
            LatencyBuckets = buckets,
        };
    }

    public Rates Add(Rates o) => new()
    {
        Hit = Hit + o.Hit, Miss = Miss + o.Miss, Stale = Stale + o.Stale, Revalidated = Revalidated + o.Revalidated,
        Collapsed = Collapsed + o.Collapsed, Pass = Pass + o.Pass, Denied = Denied + o.Denied, Error = Error + o.Error,
        BytesToClients = BytesToClients + o.BytesToClients, BytesFromOrigins = BytesFromOrigins + o.BytesFromOrigins,
        Evictions = Evictions + o.Evictions, OriginFetches = OriginFetches + o.OriginFetches, OriginLatencySum = OriginLatencySum + o.OriginLatencySum,
        LatencyBuckets = [.. LatencyBuckets.Zip(o.LatencyBuckets, (x, y) => x + y)],
        ClientLatencyBuckets = [.. ClientLatencyBuckets.Zip(o.ClientLatencyBuckets, (x, y) => x + y)],
    };
}
