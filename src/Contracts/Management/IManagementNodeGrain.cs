using CacheCluster.Contracts.Entries;

namespace CacheCluster.Contracts.Management;

/// <summary>
/// One per node (keyed by its silo address, placed on that node): the management API's way into a node's
/// counters, store, runtime policy and lifetime. Any node answers a cluster-wide call by asking every
/// active node's grain.
/// </summary>
public interface IManagementNodeGrain : IGrainWithStringKey
{
    [ResponseTimeout("00:02:00")] // may count the entries of a large store
    Task<NodeReport> GetReportAsync();

    /// <summary>Invalidates (through their owner grains) the entries in this node's store that match.</summary>
    [ResponseTimeout("00:30:00")] // walks the whole store: longer than the default call timeout by design
    Task<long> PurgeAsync(PurgeMatch match);

    /// <summary>Drops this node's hot copies that match (awaited, unlike the owners' one-way drops), so a purge
    /// that returns has left no copy anywhere.</summary>
    Task<int> DropHotAsync(PurgeMatch match);

    /// <summary>The entries in this node's store whose cache key, before any variant suffix, is <paramref name="urlKey"/>.</summary>
    [ResponseTimeout("00:30:00")]
    Task<EntryHead[]> FindAsync(string urlKey);

    Task<PolicySnapshot> GetPolicyAsync();

    /// <summary>Applies the sections of <paramref name="policy"/> named in <paramref name="sections"/>.</summary>
    Task<PolicySnapshot> SetPolicyAsync(PolicySnapshot policy, string[] sections);

    /// <summary>The ports this node listens on (proxy, management, silo, gateway): the other nodes' proxies refuse them.</summary>
    Task<int[]> GetListenerPortsAsync();

    /// <summary>Starts a graceful stop of this node (returns before it is gone).</summary>
    Task DrainAsync();

    /// <summary>This node's hottest URLs and hosts now (decaying counts; largest by requests, or by bytes).</summary>
    Task<TopReport> GetTopAsync(int limit, bool byBytes);

    /// <summary>The access-log lines buffered for <paramref name="watcher"/> since its last poll (at most <paramref name="max"/>).
    /// The first poll starts the buffer; a watcher that stops polling is forgotten after a few seconds.</summary>
    Task<LogBatch> PollLogAsync(Guid watcher, LogFilter filter, int max);

    /// <summary>This node's latest refusals, newest first (at most <paramref name="max"/>).</summary>
    Task<DenialRecord[]> GetDenialsAsync(int max);

    /// <summary>Forgets <paramref name="watcher"/> now (its stream ended).</summary>
    Task StopLogAsync(Guid watcher);
}

/// <summary>One URL or host and its decayed counts (requests, hits and bytes over about the last minutes).</summary>
[GenerateSerializer, Immutable]
public sealed record TopCount([property: Id(0)] string Key, [property: Id(1)] double Requests, [property: Id(2)] double Hits, [property: Id(3)] double Bytes);

[GenerateSerializer, Immutable]
public sealed record TopReport([property: Id(0)] TopCount[] Urls, [property: Id(1)] TopCount[] Hosts);

public enum PurgeKind { Url, Host, Prefix, SurrogateKey }

[GenerateSerializer, Immutable]
public sealed record PurgeMatch([property: Id(0)] PurgeKind Kind, [property: Id(1)] string Value);

/// <summary>What a node says about itself: identity, uptime and its counters.</summary>
[GenerateSerializer, Immutable]
public sealed record NodeReport
{
    [Id(0)] public required string Name { get; init; }
    [Id(1)] public required string Address { get; init; }
    [Id(2)] public required string State { get; init; }
    [Id(3)] public required long StartedAtUnixMs { get; init; }
    [Id(4)] public required string Version { get; init; }
    [Id(5)] public required string[] ProxyAddresses { get; init; }
    [Id(6)] public required string[] ManagementAddresses { get; init; }
    [Id(7)] public required NodeCounterValues Counters { get; init; }
    /// <summary>Resident memory of the node's process (nodes sharing a process, as in tests, report the same).</summary>
    [Id(8)] public long RssBytes { get; init; }
    /// <summary>CPU time the node's process has used since it started.</summary>
    [Id(9)] public double CpuSeconds { get; init; }
    /// <summary>Parent proxies (Upstream:Parents, as configured) that count as up, and those found down.</summary>
    [Id(10)] public string[] ParentsUp { get; init; } = [];
    [Id(11)] public string[] ParentsDown { get; init; } = [];
}

/// <summary>A node's counters since it started (see docs/management.md for what each counts).</summary>
[GenerateSerializer, Immutable]
public sealed record NodeCounterValues
{
    [Id(0)] public long Hit { get; init; }
    [Id(1)] public long Miss { get; init; }
    [Id(2)] public long Stale { get; init; }
    [Id(3)] public long Revalidated { get; init; }
    [Id(4)] public long Collapsed { get; init; }
    [Id(5)] public long Pass { get; init; }
    [Id(6)] public long Denied { get; init; }
    [Id(7)] public long Error { get; init; }
    [Id(8)] public long BytesToClients { get; init; }
    [Id(9)] public long BytesFromOrigins { get; init; }
    [Id(10)] public long OriginFetches { get; init; }
    [Id(11)] public double OriginLatencySecondsSum { get; init; }
    [Id(12)] public double[] OriginLatencyBounds { get; init; } = [];
    [Id(13)] public long[] OriginLatencyBuckets { get; init; } = [];
    [Id(14)] public long StoreBytes { get; init; }
    [Id(15)] public long StoreEntries { get; init; }
    [Id(16)] public long Evictions { get; init; }
    /// <summary>Finished client requests (CONNECT tunnels excluded) by duration, per bucket (not cumulative): bucket i counts
    /// requests over bound i-1 and up to bound i of the node's client duration bounds; the last also counts longer ones.</summary>
    [Id(17)] public long[] ClientLatencyBuckets { get; init; } = [];

    public long Requests => Hit + Miss + Stale + Revalidated + Collapsed + Pass + Denied + Error;
}

/// <summary>The runtime policy in text form (the same syntax as configuration), as it crosses nodes.</summary>
[GenerateSerializer, Immutable]
public sealed record PolicySnapshot(
    [property: Id(0)] string[] RefreshRules,
    [property: Id(1)] string[] AccessRules,
    [property: Id(2)] long Version);
