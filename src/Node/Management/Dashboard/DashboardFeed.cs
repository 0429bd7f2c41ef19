using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.Management;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// The dashboard's live data: while at least one browser listens, asks every node for its report once a
/// second, turns counter deltas into rates (<see cref="DashboardSample"/>), keeps the last
/// <see cref="HistoryLength"/> samples and fans each one out to every listener. However many browsers are
/// open, the cluster is asked once a second; with none open it is not asked at all.
/// </summary>
public sealed class DashboardFeed(ClusterNodes cluster, KeySpaceShare keySpace, ILogger<DashboardFeed> logger) : IDisposable
{
    public const int HistoryLength = 600; // ten minutes at one sample a second
    public const int TopEvery = 5;
    private const int TopLimit = 15;
    private const int DenialsShown = 15;
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    /// <summary>A node slower than this is shown without fresh figures for that second rather than stalling the feed.</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(2);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly Lock _gate = new();
    private readonly List<Channel<string>> _listeners = [];
    private readonly LinkedList<string> _history = new();
    private readonly Dictionary<string, (NodeCounterValues Counters, long AtMs)> _previous = new(StringComparer.Ordinal);
    private CancellationTokenSource? _loop;
    // A stopping loop may still be sampling when a new one starts: one sample at a time (_previous is not shared-safe).
    private readonly SemaphoreSlim _sampling = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();

    /// <summary>Listeners now (tests, and a log line when the sampler starts).</summary>
    public int Listeners { get { lock (_gate) return _listeners.Count; } }

    /// <summary>Samples taken since the node started (tests check that several browsers share them).</summary>
    public long SamplesTaken { get; private set; }

    /// <summary>
    /// Subscribes: the history so far first (one JSON array), then each new sample (one JSON object) as it is
    /// taken, until <paramref name="ct"/> ends. A listener that falls behind loses its oldest unsent samples.
    /// </summary>
    public async IAsyncEnumerable<(string Event, string Data)> SubscribeAsync([EnumeratorCancellation] CancellationToken ct)
    {
        var channel = Channel.CreateBounded<string>(new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        string history;
        lock (_gate)
        {
            history = "[" + string.Join(",", _history) + "]";
            _listeners.Add(channel);
            if (_loop is null)
            {
                _loop = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
                _ = RunAsync(_loop.Token);
            }
        }
        try
        {
            yield return ("history", history);
            await foreach (var sample in channel.Reader.ReadAllAsync(ct)) yield return ("sample", sample);
        }
        finally
        {
            lock (_gate)
            {
                _listeners.Remove(channel);
                if (_listeners.Count == 0) { _loop?.Cancel(); _loop = null; }
            }
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        logger.LogDebug("Dashboard sampler started");
        using var timer = new PeriodicTimer(Interval);
        try
        {
            do
            {
                string json;
                await _sampling.WaitAsync(ct);
                try { json = JsonSerializer.Serialize(await SampleAsync(ct), Json); }
                catch (Exception ex) when (!ct.IsCancellationRequested)
                {
                    logger.LogWarning("Dashboard sample failed: {Error}", ex.Message);
                    continue;
                }
                finally { _sampling.Release(); }
                lock (_gate)
                {
                    _history.AddLast(json);
                    while (_history.Count > HistoryLength) _history.RemoveFirst();
                    foreach (var l in _listeners) l.Writer.TryWrite(json);
                }
            } while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        logger.LogDebug("Dashboard sampler stopped (no listeners)");
    }

    private async Task<DashboardSample> SampleAsync(CancellationToken ct)
    {
        var answers = await cluster.AskAllAsync(g => g.GetReportAsync(), ct, timeout: AskTimeout);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        SamplesTaken++;
        var share = keySpace.Current();
        var nodes = new List<DashboardNode>();
        var total = new Rates();
        long entries = 0, storeBytes = 0;
        foreach (var a in answers)
        {
            if (a.Value is not { } r)
            {
                nodes.Add(new DashboardNode(a.Name, "Unreachable", 0, "", 0, 0, 0, 0, 0, 0, share.GetValueOrDefault(a.Name), a.Error ?? "", [], []));
                continue;
            }
            var rates = new Rates();
            if (_previous.TryGetValue(a.Name, out var prev) && now > prev.AtMs)
                rates = Rates.Between(prev.Counters, r.Counters, (now - prev.AtMs) / 1000.0);
            _previous[a.Name] = (r.Counters, now);
            total = total.Add(rates);
            entries += r.Counters.StoreEntries;
            storeBytes += r.Counters.StoreBytes;
            nodes.Add(new DashboardNode(r.Name, r.State, (now - r.StartedAtUnixMs) / 1000, r.Version, r.Counters.StoreEntries,
                r.Counters.StoreBytes, ProxyCounters.HitRatio(r.Counters), rates.Requests, r.RssBytes, r.CpuSeconds,
                share.GetValueOrDefault(r.Name), "", r.ParentsUp, r.ParentsDown));
        }
        // The hottest URLs and hosts every few seconds (each asks every node for its tables).
        DashboardTop? top = null;
        if (SamplesTaken % TopEvery == 1)
        {
            var tops = await cluster.AskAllAsync(g => g.GetTopAsync(TopLimit * 3, false), ct, timeout: AskTimeout);
            top = new DashboardTop(
                [.. ManagementService.Merge(tops.SelectMany(t => t.Value?.Urls ?? []), TopLimit, false).Select(i => new TopCount(i.Key, i.Requests, i.Hits, i.Bytes))],
                [.. ManagementService.Merge(tops.SelectMany(t => t.Value?.Hosts ?? []), TopLimit, false).Select(i => new TopCount(i.Key, i.Requests, i.Hits, i.Bytes))]);
        }
        // The latest refusals cluster-wide, with the same cadence (a denial spree is seen within a few seconds).
        DashboardDenial[]? denials = null;
        if (top is not null)
        {
            var answers2 = await cluster.AskAllAsync(g => g.GetDenialsAsync(DenialsShown), ct, timeout: AskTimeout);
            denials = [.. answers2.SelectMany(a => (a.Value ?? []).Select(d => new DashboardDenial(a.Name, d.TimeUnixMs, d.Client, d.Url, d.Reason, d.Rule)))
                .OrderByDescending(d => d.T).Take(DenialsShown)];
        }
        // Nodes that left stop being remembered.
        foreach (var gone in _previous.Keys.Where(k => answers.All(a => a.Name != k)).ToList()) _previous.Remove(gone);
        return new DashboardSample(now, nodes, total, entries, storeBytes, top, denials);
    }

    public void Dispose()
    {
        _disposed.Cancel();
        _disposed.Dispose();
    }
}

public sealed record DashboardSample(long T, List<DashboardNode> Nodes, Rates Cluster, long Entries, long StoreBytes, DashboardTop? Top,
    DashboardDenial[]? Denials = null);

/// <summary>A recent refusal on <see cref="Node"/>: why (rule, auth, rate, guard, connect-port, other) and the access rule that denied it.</summary>
public sealed record DashboardDenial(string Node, long T, string Client, string Url, string Reason, string? Rule);

/// <summary>Cluster-wide hottest URLs and hosts (decaying counts), sent with every <see cref="DashboardFeed.TopEvery"/>th sample.</summary>
public sealed record DashboardTop(TopCount[] Urls, TopCount[] Hosts);

public sealed record DashboardNode(string Name, string State, long UptimeSeconds, string Version, long Entries, long StoreBytes,
    double HitRatio, double RequestsPerSecond, long RssBytes, double CpuSeconds, double KeySpaceShare, string Error,
    string[] ParentsUp, string[] ParentsDown);
