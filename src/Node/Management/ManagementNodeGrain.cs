using System.Reflection;
using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Management;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy.Guard;
using CacheCluster.Node.Policy.Runtime;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Orleans.Concurrency;

namespace CacheCluster.Node.Management;

/// <summary>This node's side of the management API (one per node, placed on it).</summary>
[Reentrant]
[NodeBoundPlacement]
public sealed class ManagementNodeGrain(
    NodeSettings settings,
    EntryStore store,
    StoreCensus census,
    ProxyCounters counters,
    RuntimePolicy policy,
    ManagementAddresses management,
    IServer server,
    IHostApplicationLifetime lifetime,
    HotEntries hot,
    DestinationGuard guard,
    TopUrls top,
    LiveAccessLog live,
    RequestFigures figures,
    RecentDenials denials,
    Proxy.OriginClient origins,
    ILogger<ManagementNodeGrain> logger) : Grain, IManagementNodeGrain
{
    public async Task<int[]> GetListenerPortsAsync()
    {
        // Other nodes ask as soon as this one joins the cluster, which is before Kestrel has bound its listeners
        // (ports given as 0 are only known then): answer once it has. Still starting after a few seconds: an empty
        // answer, which the asker takes as "ask again" (ClusterListeners).
        await Task.WhenAny(guard.ListenersBound, Task.Delay(TimeSpan.FromSeconds(4)));
        return guard.ListenersBound.IsCompleted ? guard.OwnPorts() : [];
    }

    /// <summary>The build: version plus the short commit id when the build knows it (1.0.0+17c54e8).</summary>
    public static readonly string Version = ShortVersion(
        typeof(ManagementNodeGrain).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");

    private static string ShortVersion(string v) => v.IndexOf('+') is int plus and > 0 && v.Length > plus + 8 ? v[..(plus + 8)] : v;

    public async Task<NodeReport> GetReportAsync()
    {
        var (entries, _) = await census.CountAsync();
        var stats = store.GetStats();
        var mgmtPorts = management.EndPoints.Select(e => e.Port).ToHashSet();
        var proxy = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .Where(a => Uri.TryCreate(a, UriKind.Absolute, out var u) && !mgmtPorts.Contains(u.Port) && u.Host != Proxy.Intercept.BumpEndPoint.Name).ToArray() ?? [];
        return new NodeReport
        {
            Name = settings.NodeName,
            Address = this.GetPrimaryKeyString(),
            State = lifetime.ApplicationStopping.IsCancellationRequested ? "ShuttingDown" : "Active",
            StartedAtUnixMs = management.StartedAt.ToUnixTimeMilliseconds(),
            Version = Version,
            ProxyAddresses = proxy,
            ManagementAddresses = [.. management.Uris.Select(u => u.ToString())],
            Counters = counters.Snapshot(stats.LogBytes, entries, stats.Evictions) with { ClientLatencyBuckets = figures.DurationBuckets() }, // live log bytes (memory + disk)
            RssBytes = Environment.WorkingSet,
            CpuSeconds = Environment.CpuUsage.TotalTime.TotalSeconds,
            ParentsUp = [.. origins.ParentHealth().Where(p => p.Up).Select(p => p.Name)],
            ParentsDown = [.. origins.ParentHealth().Where(p => !p.Up).Select(p => p.Name)],
        };
    }

    public async Task<long> PurgeAsync(PurgeMatch match)
    {
        long purged = 0;
        foreach (var (hash, head) in await census.EntriesAsync())
        {
            if (!PurgeMatcher.Matches(match, head)) continue;
            // Through the owner grain, so its activation forgets the entry and every node drops its hot copy.
            var owner = GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGuid(hash));
            // (A varying URL's marker takes its variants with it: they count here, and are gone when the walk reaches them.)
            int removed = await owner.InvalidateAsync();
            // A copy here that the owner does not know about (ownership moved, no handoff yet) goes too.
            if (await store.ReadHeaderAsync(hash) is not null)
            {
                await store.DeleteHeaderAsync(hash);
                removed = Math.Max(removed, 1);
            }
            purged += removed;
        }
        await DropHotAsync(match);
        if (purged > 0) logger.LogInformation("Purge {Kind} '{Value}': {Count} entr(ies) removed from this node's store", match.Kind, match.Value, purged);
        return purged;
    }

    public Task<int> DropHotAsync(PurgeMatch match) => Task.FromResult(hot.DropWhere(head => PurgeMatcher.Matches(match, head)));

    public async Task<EntryHead[]> FindAsync(string urlKey) =>
        [.. (await census.EntriesAsync()).Select(e => e.Head).Where(h => VaryMarker.UrlKeyOf(h.CacheKey) == urlKey)];

    public Task<PolicySnapshot> GetPolicyAsync() => Task.FromResult(policy.Snapshot());

    public async Task<PolicySnapshot> SetPolicyAsync(PolicySnapshot snapshot, string[] sections)
    {
        var applied = await policy.ApplyAsync(snapshot, sections); // in force at once; answered once saved
        logger.LogInformation("Runtime policy changed ({Sections}); version {Version}", string.Join(", ", sections), applied.Version);
        return applied;
    }

    public Task<TopReport> GetTopAsync(int limit, bool byBytes)
    {
        var (urls, hosts) = top.Top(Math.Clamp(limit, 1, TopUrls.Keep), byBytes);
        static TopCount[] Map(TopUrls.Item[] items) => [.. items.Select(i => new TopCount(i.Key, i.Requests, i.Hits, i.Bytes))];
        return Task.FromResult(new TopReport(Map(urls), Map(hosts)));
    }

    public Task<LogBatch> PollLogAsync(Guid watcher, LogFilter filter, int max) =>
        Task.FromResult(live.Poll(watcher, filter, Math.Clamp(max, 1, LiveAccessLog.BufferLines)));

    public Task<DenialRecord[]> GetDenialsAsync(int max) => Task.FromResult(denials.Newest(max));

    public Task StopLogAsync(Guid watcher)
    {
        live.Stop(watcher);
        return Task.CompletedTask;
    }

    public Task DrainAsync()
    {
        logger.LogWarning("Drain requested through the management API: this node leaves the cluster and stops");
        // Let the reply go out first.
        _ = Task.Delay(200).ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
        return Task.CompletedTask;
    }
}
