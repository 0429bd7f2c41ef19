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
    [Id(9)] public long BodyLength { get; init; }
    [Id(10)] public int ChunkCount { get; init; }
    [Id(11)] public long Generation { get; init; }
    [Id(12)] public long StoredAtUnixMs { get; init; }
}

[Flags]
public enum EntryFlags
{
    None = 0,
    Heuristic = 1,
    NoCache = 2,
    MustRevalidate = 4,
}

/// <summary>A lookup's answer: the head and, to save a round trip, the first body chunk.</summary>
[GenerateSerializer, Immutable]
public sealed record LookupResult(
    [property: Id(0)] EntryHead? Head,
    [property: Id(1)] byte[]? FirstChunk)
{
    public static readonly LookupResult Miss = new(null, null);
}

/// <summary>Permission to fill (store) the entry: at most one fill per URL runs at a time.</summary>
[GenerateSerializer, Immutable]
public sealed record FillLease(
    [property: Id(0)] long FillId,
    [property: Id(1)] int ChunkBytes);
