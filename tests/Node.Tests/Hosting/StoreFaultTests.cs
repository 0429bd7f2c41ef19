using System.Diagnostics;
using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Hosting;

/// <summary>
/// A full disk under the store (a real tmpfs filled by another file), seen from outside a node process: requests
/// stay fast and bypass the cache, the node reports not ready and says why, it recovers by itself once space
/// returns, SIGTERM stays within a grace period, and a kill -9 loses at most what came after the last good checkpoint.
/// </summary>
public class StoreFaultTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static async Task<(NodeProcess Node, Uri Management)> StartAsync(string storeDir, int proxyPort)
    {
        var management = Ports.Free();
        var node = await NodeProcess.StartAsync(storeDir, proxyPort,
            ["--Store:CheckpointInterval=1s", $"--Management:Listen=127.0.0.1:{management}"]);
        return (node, new Uri($"http://127.0.0.1:{management}/"));
    }

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(Uri url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var r = await http.GetAsync(url);
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return true;
            await Task.Delay(250);
        }
        return await condition();
    }

    private static double MetricValue(string metrics, string name) =>
        metrics.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Single();

    [SkippableFact]
    public async Task A_full_disk_is_bypassed_fast_reported_not_ready_and_the_store_recovers_when_space_returns()
    {
        using var disk = SmallDisk.TryMount(48, out var why);
        Skip.If(disk is null, why);
        var (node, management) = await StartAsync(Path.Combine(disk!.Root, "store"), Ports.Free());
        await using var _ = node;
        using var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(30));
        var early = NodeAndOrigin.Unique("/bytes/1k");
        double Checkpoints(string metrics) => MetricValue(metrics, "cachecluster_store_checkpoints_total");
        double before = Checkpoints((await GetAsync(new Uri(management, "metrics"))).Body);
        (await client.GetAsync(_origin.Url(early))).Dispose();
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(new Uri(management, "healthz/ready"))).Status);
        // A checkpoint after the write: the count rises, then stays put for over a checkpoint interval (the loop
        // checkpoints again whenever something was written since its last one).
        Assert.True(await EventuallyAsync(async () => Checkpoints((await GetAsync(new Uri(management, "metrics"))).Body) >= before + 1,
            TimeSpan.FromSeconds(15)), "the store checkpointed");
        for (int i = 0; i < 5; i++)
        {
            double count = Checkpoints((await GetAsync(new Uri(management, "metrics"))).Body);
            await Task.Delay(2500);
            if (Checkpoints((await GetAsync(new Uri(management, "metrics"))).Body) == count) break;
        }

        disk.Fill();
        // Every request is served right (from the origin) and quickly: no grain-call timeouts (they were ~12 s).
        for (int i = 0; i < 12; i++)
        {
            var path = NodeAndOrigin.Unique("/bytes/1m");
            var watch = Stopwatch.StartNew();
            using var r = await client.GetAsync(_origin.Url(path));
            var body = await r.Content.ReadAsByteArrayAsync();
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(OriginContent.Expected(path), body);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"request {i} took {watch.Elapsed.TotalSeconds:F1} s");
        }

        // The fills went to the store's memory tier; the failure shows when the next checkpoint (1 s) writes them out.
        (HttpStatusCode Status, string Body) ready = default;
        Assert.True(await EventuallyAsync(async () => (ready = await GetAsync(new Uri(management, "healthz/ready"))).Status == HttpStatusCode.ServiceUnavailable,
            TimeSpan.FromSeconds(15)), $"still {ready.Status}");
        var (status, reason) = ready;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("store is failing", reason);
        var metrics = (await GetAsync(new Uri(management, "metrics"))).Body;
        Assert.True(MetricValue(metrics, "cachecluster_store_failures_total") >= 1);
        Assert.Equal(0, MetricValue(metrics, "cachecluster_store_healthy"));
        // Logged once, with the cause.
        Assert.Single(node.Output.Split('\n'), l => l.Contains("is failing:", StringComparison.Ordinal));
        Assert.Contains("MiB free on its file system", node.Output);

        // While failing, URLs are bypassed at once and nothing is stored.
        var during = NodeAndOrigin.Unique("/bytes/64k");
        for (int i = 0; i < 2; i++) (await client.GetAsync(_origin.Url(during))).Dispose();
        Assert.Equal(2, _origin.RequestCount(during));

        disk.Free();
        Assert.True(await EventuallyAsync(async () => (await GetAsync(new Uri(management, "healthz/ready"))).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(40)),
            "the node did not become ready again after space returned:\n" + node.Output);
        // The line follows the state change; the process's output arrives a moment later.
        Assert.True(await EventuallyAsync(() => Task.FromResult(node.Output.Contains("recovered after")), TimeSpan.FromSeconds(5)), node.Output);
        var after = NodeAndOrigin.Unique("/bytes/200k");
        (await client.GetAsync(_origin.Url(after))).Dispose();
        using (var hit = await client.GetAsync(_origin.Url(after)))
        {
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal(OriginContent.Expected(after), await hit.Content.ReadAsByteArrayAsync());
        }
        using (var old = await client.GetAsync(_origin.Url(early)))
            Assert.Contains("hit", old.CacheStatus()); // checkpointed before the disk filled: kept

        // SIGTERM on a full disk: out well within a Kubernetes grace period (it hung over 70 s).
        disk.Fill();
        (await client.GetAsync(_origin.Url(NodeAndOrigin.Unique("/bytes/1m")))).Dispose();
        var stop = Stopwatch.StartNew();
        node.Terminate();
        await node.WaitForExitAsync(TimeSpan.FromSeconds(45));
        Assert.True(stop.Elapsed < TimeSpan.FromSeconds(25), $"shutdown took {stop.Elapsed.TotalSeconds:F1} s");
    }

    [SkippableFact]
    public async Task After_kill_9_on_a_full_disk_the_restarted_node_serves_the_last_good_checkpoint()
    {
        using var disk = SmallDisk.TryMount(48, out var why);
        Skip.If(disk is null, why);
        var storeDir = Path.Combine(disk!.Root, "store");
        var port = Ports.Free();
        string[] kept = [.. Enumerable.Range(0, 4).Select(i => NodeAndOrigin.Unique($"/bytes/{100 + i}k"))];
        var (node, management) = await StartAsync(storeDir, port);
        await using (node)
        {
            using var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(30));
            foreach (var p in kept) (await client.GetAsync(_origin.Url(p))).Dispose();
            await Task.Delay(TimeSpan.FromSeconds(3)); // a checkpoint covers them
            disk.Fill();
            for (int i = 0; i < 8; i++) (await client.GetAsync(_origin.Url(NodeAndOrigin.Unique("/bytes/1m")))).Dispose();
            Assert.True(await EventuallyAsync(async () => (await GetAsync(new Uri(management, "healthz/ready"))).Status != HttpStatusCode.OK, TimeSpan.FromSeconds(10)));
            await Task.Delay(TimeSpan.FromSeconds(2)); // checkpoint attempts on the full disk
            node.Kill();
        }

        disk.Free();
        (node, _) = await StartAsync(storeDir, port);
        await using (node)
        {
            using var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(30));
            foreach (var p in kept)
            {
                using var r = await client.GetAsync(_origin.Url(p));
                Assert.Contains("hit", r.CacheStatus());
                Assert.Equal(OriginContent.Expected(p), await r.Content.ReadAsByteArrayAsync());
            }
            Assert.All(kept, p => Assert.Equal(1, _origin.RequestCount(p)));
        }
    }
}
