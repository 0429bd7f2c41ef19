namespace CacheCluster.Contracts.Management;

/// <summary>What a live access-log watcher wants to see (empty: everything). Applied on each node, so only matching lines cross.</summary>
[GenerateSerializer, Immutable]
public sealed record LogFilter(
    [property: Id(0)] string[] Outcomes,
    [property: Id(1)] string? Host,
    [property: Id(2)] string? Client);

/// <summary>One access-log record as a watcher receives it: the fields, and the line as Squid would log it.</summary>
[GenerateSerializer, Immutable]
public sealed record LogLine(
    [property: Id(0)] long TimeUnixMs,
    [property: Id(1)] double ElapsedMs,
    [property: Id(2)] string Client,
    [property: Id(3)] string Outcome,
    [property: Id(4)] string SquidCode,
    [property: Id(5)] int Status,
    [property: Id(6)] long Bytes,
    [property: Id(7)] string Method,
    [property: Id(8)] string Url,
    [property: Id(9)] string? User,
    [property: Id(10)] string Hierarchy,
    [property: Id(11)] string? Peer,
    [property: Id(12)] string? ContentType,
    [property: Id(13)] string? CacheStatus,
    [property: Id(14)] string SquidLine);

/// <summary>The lines a node buffered for one watcher since its last poll, and how many it dropped meanwhile (watcher too slow).</summary>
[GenerateSerializer, Immutable]
public sealed record LogBatch([property: Id(0)] LogLine[] Lines, [property: Id(1)] long Dropped);

/// <summary>A request the proxy refused itself, for the dashboard's recent denials: why (rule, auth, rate, guard, …) and which access rule.</summary>
[GenerateSerializer, Immutable]
public sealed record DenialRecord(
    [property: Id(0)] long TimeUnixMs,
    [property: Id(1)] string Client,
    [property: Id(2)] string Url,
    [property: Id(3)] string Reason,
    [property: Id(4)] string? Rule);
