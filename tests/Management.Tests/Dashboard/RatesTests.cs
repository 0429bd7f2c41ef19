using CacheCluster.Contracts.Management;
using CacheCluster.Node.Management.Dashboard;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Management.Tests.Dashboard;

/// <summary>The dashboard's per-second rates, ratios and latency percentiles from two counter snapshots.</summary>
public class RatesTests
{
    private static long[] Cumulative(params long[] perBucket)
    {
        var c = new long[ProxyCounters.LatencyBounds.Length];
        long run = 0;
        for (int i = 0; i < c.Length; i++) c[i] = run += i < perBucket.Length ? perBucket[i] : 0;
        return c;
    }

    [Fact]
    public void Rates_ratios_and_percentiles_come_from_the_difference()
    {
        var a = new NodeCounterValues { Hit = 100, Miss = 50, BytesToClients = 10_000, BytesFromOrigins = 5_000, OriginFetches = 10, OriginLatencySecondsSum = 1, OriginLatencyBuckets = Cumulative(5, 5) };
        // Over 2 s: 30 hits, 10 misses; 8000 bytes out of which 2000 came from origins; 10 fetches, 9 within 5 ms, 1 at 1 s.
        var b = a with
        {
            Hit = 130, Miss = 60, BytesToClients = 18_000, BytesFromOrigins = 7_000, OriginFetches = 20, OriginLatencySecondsSum = 2.5,
            OriginLatencyBuckets = Cumulative(14, 5, 0, 0, 0, 0, 0, 1),
        };
        var r = Rates.Between(a, b, 2);
        Assert.Equal(15, r.Hit);
        Assert.Equal(5, r.Miss);
        Assert.Equal(20, r.Requests);
        Assert.Equal(0.75, r.HitRatio);
        Assert.Equal(0.75, r.ByteHitRatio);
        Assert.Equal(150, r.OriginLatencyMeanMs!.Value, 6);
        Assert.Equal(5, r.OriginLatencyP50Ms);
        Assert.Equal(1000, r.OriginLatencyP99Ms);
    }

    [Fact]
    public void A_restarted_node_counts_zero_not_negative_and_an_idle_interval_has_no_ratio()
    {
        var a = new NodeCounterValues { Hit = 100, BytesToClients = 1000, OriginLatencyBuckets = Cumulative(3) };
        var restarted = new NodeCounterValues { Hit = 2, BytesToClients = 10, OriginLatencyBuckets = Cumulative(0) };
        var r = Rates.Between(a, restarted, 1);
        Assert.Equal(0, r.Hit);
        Assert.Null(r.HitRatio);
        Assert.Null(r.ByteHitRatio);
        Assert.Null(r.OriginLatencyP99Ms);
        var sum = r.Add(Rates.Between(new NodeCounterValues { OriginLatencyBuckets = Cumulative() }, new NodeCounterValues { Miss = 4, OriginLatencyBuckets = Cumulative() }, 2));
        Assert.Equal(2, sum.Miss);
        Assert.Equal(0, sum.HitRatio);
    }

    [Fact]
    public void Client_latency_percentiles_come_from_the_requests_of_the_interval_summed_over_nodes()
    {
        long[] Buckets(params (int Bucket, long Count)[] counts)
        {
            var b = new long[RequestFigures.DurationBounds.Length];
            foreach (var (i, n) in counts) b[i] = n;
            return b;
        }
        // Node 1: 500 earlier requests of 30 s must not count; over 1 s, 98 hits within 1 ms.
        var one = Rates.Between(new NodeCounterValues { ClientLatencyBuckets = Buckets((13, 500)) },
            new NodeCounterValues { ClientLatencyBuckets = Buckets((0, 98), (13, 500)) }, 1);
        // Node 2: 2 slow requests (up to 1 s) over the same second.
        var two = Rates.Between(new NodeCounterValues { ClientLatencyBuckets = Buckets() }, new NodeCounterValues { ClientLatencyBuckets = Buckets((9, 2)) }, 1);
        var cluster = one.Add(two);
        Assert.Equal(1, cluster.ClientLatencyP50Ms);
        Assert.Equal(1000, cluster.ClientLatencyP99Ms);
        Assert.Equal(1, one.ClientLatencyP99Ms);
        // A node without the buckets (an older version in a rolling upgrade): no figures, not an error.
        Assert.Null(Rates.Between(new NodeCounterValues(), new NodeCounterValues(), 1).ClientLatencyP50Ms);
    }
}
