using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace CacheCluster.Node.Tests.Hosting;

/// <summary>
/// A real workload in miniature: a working set three times the store, lognormal sizes, Zipf popularity, concurrent
/// fills and hits, eviction all the time. No response may be short or differ from the origin's bytes, the files
/// stay within the disk budget, and the store keeps the popular entries by copying them forward.
/// </summary>
public class StoreChurnTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long DiskBudget = 24L << 20;
    private const int Objects = 1000;
    private const int Requests = 3000;
    private const int Workers = 12;

    private OriginServer _origin = null!;
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _origin = await OriginServer.StartAsync();
        _node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Store:MemoryBudget"] = "4MiB",
            ["Store:DiskBudget"] = "24MiB",
            ["Cache:HotCacheSize"] = "0", // every hit is served by the store
        });
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task Readers_never_get_a_short_or_wrong_body_while_eviction_churns_a_full_store()
    {
        // Sizes: lognormal, median 32 KiB, capped at 1 MiB (about 75 MiB in all); object 0 is the most popular.
        var random = new Random(42);
        var paths = new string[Objects];
        long total = 0;
        for (int i = 0; i < Objects; i++)
        {
            double normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            long size = Math.Clamp((long)(32 * 1024 * Math.Exp(1.3 * normal)), 200, 1 << 20);
            paths[i] = $"/bytes/{size}?seed={i}&etag=o{i}&ranges=1";
            total += size;
        }
        output.WriteLine($"{Objects} objects, {total >> 20} MiB in all, store budget {DiskBudget >> 20} MiB");
        Assert.True(total > 2 * DiskBudget);
        var zipf = ZipfCdf(Objects, 0.9);
        var expected = new ConcurrentDictionary<int, string>();

        using var disk = new DirectorySampler(_node.DataDir);
        int next = -1, hits = 0, short_ = 0, wrong = 0, errors = 0;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            using var client = _node.CreateClient(TimeSpan.FromSeconds(30));
            var pick = new Random(1000 + w);
            while (Interlocked.Increment(ref next) < Requests && !deadline.IsCancellationRequested)
            {
                int rank = Array.BinarySearch(zipf, pick.NextDouble());
                rank = rank < 0 ? ~rank : rank;
                rank = Math.Min(rank, Objects - 1);
                var path = paths[rank];
                try
                {
                    using var response = await client.GetAsync(_origin.Url(path), deadline.Token);
                    var body = await response.Content.ReadAsByteArrayAsync(deadline.Token);
                    if (response.StatusCode != HttpStatusCode.OK) { Interlocked.Increment(ref errors); continue; }
                    if (body.Length != response.Content.Headers.ContentLength || body.Length != OriginContent.SizeFromTarget(path))
                    {
                        Interlocked.Increment(ref short_);
                        continue;
                    }
                    if (Convert.ToHexStringLower(SHA256.HashData(body)) != expected.GetOrAdd(rank, _ => OriginContent.ExpectedSha256(path)))
                        Interlocked.Increment(ref wrong);
                    if (response.CacheStatus().Contains("hit")) Interlocked.Increment(ref hits);
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    Interlocked.Increment(ref short_); // cut off mid-body
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);

        var stats = _node.Services.GetRequiredService<EntryStore>().GetStats();
        var counters = _node.Services.GetRequiredService<ProxyCounters>();
        output.WriteLine($"{Math.Min(next, Requests)} requests: {hits} hits, {short_} short, {wrong} wrong, {errors} errors; " +
            $"max on disk {disk.Max / 1048576.0:F1} MiB; entries {stats.Entries} ({stats.BodyBytes >> 20} MiB), evicted {stats.EvictedEntries}, " +
            $"kept by copying {stats.MovedEntries} ({stats.MovedBytes >> 20} MiB); continuations {counters.BodyContinuations}");
        Assert.False(deadline.IsCancellationRequested, "the load finished in time");
        Assert.Equal(0, short_);
        Assert.Equal(0, wrong);
        Assert.Equal(0, errors);
        foreach (var cause in Enum.GetValues<BodyAbortCause>())
            Assert.Equal(0, counters.BodyAborts(cause));
        Assert.True(disk.Max <= DiskBudget, $"store files peaked at {disk.Max} bytes, over the {DiskBudget}-byte budget");
        Assert.True(stats.EvictedEntries > 100, "the store was churned");
        Assert.True(stats.MovedEntries > 0, "popular entries were kept by copying them forward");
        Assert.True(hits > Requests / 5, $"the cache served hits ({hits})");
    }

    private static double[] ZipfCdf(int n, double s)
    {
        var cdf = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) cdf[i] = sum += 1 / Math.Pow(i + 1, s);
        for (int i = 0; i < n; i++) cdf[i] /= sum;
        return cdf;
    }

    /// <summary>Samples the size of every file under a directory every 20 ms; <see cref="Max"/> is the peak.</summary>
    private sealed class DirectorySampler : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private long _max;

        public DirectorySampler(string path) => _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                long size = 0;
                try
                {
                    foreach (var file in new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories))
                    {
                        try { size += file.Length; }
                        catch (FileNotFoundException) { }
                    }
                }
                catch (DirectoryNotFoundException) { }
                if (size > Interlocked.Read(ref _max)) Interlocked.Exchange(ref _max, size);
                try { await Task.Delay(20, _stop.Token); } catch (OperationCanceledException) { }
            }
        });

        public long Max => Interlocked.Read(ref _max);

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait();
            _stop.Dispose();
        }
    }
}
