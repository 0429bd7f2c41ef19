using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using CacheCluster.TestOrigin;

namespace CacheCluster.Cluster.Tests.Support;

/// <summary>One request of a <see cref="MixedLoad"/>: when, through which host, and what the client saw.</summary>
public sealed record Sample(TimeSpan At, TimeSpan Took, int Host, string Key, Outcome Outcome, bool Hit, string Detail);

public enum Outcome
{
    /// <summary>200 with exactly the origin's bytes.</summary>
    Ok,
    /// <summary>200 whose body the client received as complete but whose bytes are wrong or short: must never happen.</summary>
    Corrupt,
    /// <summary>A status other than 200 (502, 504, 503...).</summary>
    Status,
    /// <summary>The connection was refused, reset, or cut mid-body (the client saw it was incomplete).</summary>
    Failed,
    /// <summary>No answer within the client's timeout.</summary>
    Hung,
}

/// <summary>
/// A bounded, steady request mix over a Zipf-popular key set (most requests for a few keys, a long tail, sizes
/// 2 KiB to 256 KiB): <c>workers</c> loops, each paced to at most one request per <c>pace</c>, each through the host
/// <c>route</c> picks (a host may be taken out of rotation, as a Service drops a pod). Every 200's body is checked
/// byte for byte against the origin's deterministic content.
/// </summary>
public sealed class MixedLoad(OriginServer origin, Func<int, int?> route, int keys = 300, TimeSpan? clientTimeout = null)
{
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly ConcurrentDictionary<string, byte[]> _expected = new();
    private readonly ConcurrentDictionary<int, HttpClient> _clients = new();
    private readonly TimeSpan _timeout = clientTimeout ?? TimeSpan.FromSeconds(20);
    private readonly double[] _cdf = ZipfCdf(keys, 1.0);

    public ConcurrentQueue<Sample> Samples { get; } = new();
    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    /// <summary>Hosts to send to: a function of the worker's number, null to sit out this turn.</summary>
    public Func<int, int?> Route { get; set; } = route;

    public string KeyPath(int rank)
    {
        // Every 16th key is large (several chunks, streamed between nodes), the rest small.
        var size = rank % 16 == 5 ? "256k" : rank % 4 == 1 ? "32k" : "2k";
        return $"/bytes/{size}?seed={rank}&run={_run}";
    }

    public int NextRank(Random random)
    {
        var u = random.NextDouble();
        int lo = 0, hi = _cdf.Length - 1;
        while (lo < hi) { var mid = (lo + hi) / 2; if (_cdf[mid] < u) lo = mid + 1; else hi = mid; }
        return lo;
    }

    /// <summary>Runs until <paramref name="stop"/> is cancelled (bounded by it) with <paramref name="workers"/> loops.</summary>
    public Task RunAsync(int workers, TimeSpan pace, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
        {
            var random = new Random(w * 7919 + 1);
            while (!stop.IsCancellationRequested)
            {
                var started = Clock.Elapsed;
                if (Route(w) is { } host) await OneAsync(host, KeyPath(NextRank(random)));
                var rest = pace - (Clock.Elapsed - started);
                if (rest > TimeSpan.Zero) try { await Task.Delay(rest, stop); } catch (OperationCanceledException) { }
            }
        })));

    /// <summary>One GET of <paramref name="path"/> through host <paramref name="host"/>, recorded and returned.</summary>
    public async Task<Sample> OneAsync(int host, string path)
    {
        var client = _clients.GetOrAdd(host, h => Clients.ViaProxy(new Uri($"http://{HostAddressOf(h)}/"), _timeout));
        var expected = _expected.GetOrAdd(path, p => OriginContent.Expected(p));
        var at = Clock.Elapsed;
        Sample sample;
        try
        {
            using var r = await client.GetAsync(origin.Url(path));
            var body = await r.Content.ReadAsByteArrayAsync();
            var hit = r.CacheStatus().Contains("hit");
            if (r.StatusCode != HttpStatusCode.OK)
                sample = new(at, Clock.Elapsed - at, host, path, Outcome.Status, false, $"{(int)r.StatusCode} {r.CacheStatus()}");
            else if (!body.AsSpan().SequenceEqual(expected))
                sample = new(at, Clock.Elapsed - at, host, path, Outcome.Corrupt, hit, $"{body.Length} of {expected.Length} bytes, {r.CacheStatus()}");
            else
                sample = new(at, Clock.Elapsed - at, host, path, Outcome.Ok, hit, r.CacheStatus());
        }
        catch (TaskCanceledException) { sample = new(at, Clock.Elapsed - at, host, path, Outcome.Hung, false, "client timeout"); }
        catch (HttpRequestException e) { sample = new(at, Clock.Elapsed - at, host, path, Outcome.Failed, false, e.Message); }
        catch (HttpIOException e) { sample = new(at, Clock.Elapsed - at, host, path, Outcome.Failed, false, e.Message); }
        // A connection reset just after it was accepted can escape HttpClient unwrapped (its pool reads the remote
        // address: ENOTCONN); the client saw a failed request like any other.
        catch (System.Net.Sockets.SocketException e) { sample = new(at, Clock.Elapsed - at, host, path, Outcome.Failed, false, $"socket: {e.Message}"); }
        Samples.Enqueue(sample);
        return sample;
    }

    /// <summary>Maps a host number to its proxy endpoint (set by the test: the cluster's addressing).</summary>
    public Func<int, string> HostAddressOf { get; set; } = h => throw new InvalidOperationException("HostAddressOf not set");

    public IEnumerable<Sample> Between(TimeSpan from, TimeSpan to) => Samples.Where(s => s.At >= from && s.At < to);

    public static string Summary(IEnumerable<Sample> samples)
    {
        var list = samples.ToList();
        if (list.Count == 0) return "no requests";
        var by = list.GroupBy(s => s.Outcome).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}");
        var hits = list.Count(s => s.Hit);
        var p99 = list.Select(s => s.Took.TotalMilliseconds).Order().ElementAt((int)Math.Min(list.Count - 1, list.Count * 0.99));
        var max = list.Max(s => s.Took.TotalMilliseconds);
        return $"{list.Count} requests ({string.Join(", ", by)}), hits {hits} ({100.0 * hits / list.Count:0.0}%), p99 {p99:0} ms, max {max:0} ms";
    }

    public void DisposeClients()
    {
        foreach (var c in _clients.Values) c.Dispose();
        _clients.Clear();
    }

    private static double[] ZipfCdf(int n, double s)
    {
        var w = Enumerable.Range(1, n).Select(k => 1 / Math.Pow(k, s)).ToArray();
        var total = w.Sum();
        var cdf = new double[n];
        double acc = 0;
        for (int i = 0; i < n; i++) { acc += w[i] / total; cdf[i] = acc; }
        cdf[^1] = 1;
        return cdf;
    }
}
