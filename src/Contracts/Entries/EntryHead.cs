using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// Everything about a stored response except its body: status, end-to-end headers, the freshness facts
/// computed when it was stored, and where its body chunks are (generation + count).
/// Immutable so Orleans passes it between grain and proxy without copying.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record EntryHead
{
    [Id(0)] public required string CacheKey { get; init; }
    [Id(1)] public required int Status { get; init; }
    [Id(2)] public string? ReasonPhrase { get; init; }
    /// <summary>End-to-end response headers as flat pairs [name, value, …]; hop-by-hop ones are never stored.</summary>
    [Id(3)] public required string[] Headers { get; init; }
    [Id(4)] public required long RequestTimeUnixMs { get; init; }
    [Id(5)] public required long ResponseTimeUnixMs { get; init; }
    [Id(6)] public required long LifetimeMs { get; init; }
    [Id(7)] public required long InitialAgeMs { get; init; }
    [Id(8)] public EntryFlags Flags { get; init; }
    /// <summary>Body length; while a fill is running, the length the origin declared or -1 if it declared none.</summary>
    [Id(9)] public long BodyLength { get; init; }
    [Id(10)] public int ChunkCount { get; init; }
    [Id(11)] public long Generation { get; init; }
    [Id(12)] public long StoredAtUnixMs { get; init; }
    /// <summary>stale-while-revalidate / stale-if-error windows of the stored response (RFC 5861); -1 when absent.</summary>
    [Id(13)] public long StaleWhileRevalidateMs { get; init; } = -1;
    [Id(14)] public long StaleIfErrorMs { get; init; } = -1;
}
