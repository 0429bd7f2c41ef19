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

[Flags]
public enum EntryFlags
{
    None = 0,
    Heuristic = 1,
    NoCache = 2,
    MustRevalidate = 4,
    Immutable = 8,
    /// <summary>Not a response: the URL's Vary marker (see <see cref="VaryMarker"/>).</summary>
    VaryMarker = 16,
}

/// <summary>
/// A lookup's answer: the head and, to save round trips, the first body chunk (all chunks of a small body);
/// or a fill ticket on a miss.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LookupResult(
    [property: Id(0)] EntryHead? Head,
    [property: Id(1)] byte[]? FirstChunk,
    [property: Id(2)] FillTicket? Fill = null,
    [property: Id(3)] string? Owner = null,
    [property: Id(4)] byte[][]? MoreChunks = null)
{
    /// <summary>Body chunk <paramref name="index"/> if this result carries it (small multi-chunk bodies come whole).</summary>
    public byte[]? Carried(int index) =>
        index == 0 ? FirstChunk : MoreChunks is { } more && index - 1 < more.Length ? more[index - 1] : null;
}

/// <summary>
/// The answer to "may I fill this entry": a lease (you are the leader: fetch, publish, append, commit) or the
/// id of the running fill to follow. Neither when filling is impossible (then fetch without storing).
/// <see cref="EntryChanged"/>: the stored entry the caller wanted to replace has already been replaced or
/// refreshed (by a fill that ended between its lookup and this ask): look it up again instead of fetching.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FillTicket(
    [property: Id(0)] long FillId,
    [property: Id(1)] bool IsLeader,
    [property: Id(2)] int ChunkBytes,
    [property: Id(3)] bool EntryChanged = false);

public enum FillOutcomeKind
{
    /// <summary>Storable response: followers stream it from the owner as it arrives.</summary>
    Stream,
    /// <summary>Not shareable (not storable, or the leader gave up): followers fetch on their own.</summary>
    Pass,
    /// <summary>The origin failed: followers answer with this status and message; nothing is cached.</summary>
    Error,
    /// <summary>The response varies (Vary): the URL now holds a Vary marker; look it up again and follow your variant's fill.</summary>
    Vary,
}

[GenerateSerializer, Immutable]
public sealed record FillOutcome(
    [property: Id(0)] FillOutcomeKind Kind,
    [property: Id(1)] EntryHead? Head = null,
    [property: Id(2)] int ErrorStatus = 0,
    [property: Id(3)] string? ErrorMessage = null)
{
    public static readonly FillOutcome Pass = new(FillOutcomeKind.Pass);
}

/// <summary>One chunk for a follower: data, or the end of the body, or the fill was lost (cut the client off).</summary>
[GenerateSerializer, Immutable]
public sealed record FollowChunk(
    [property: Id(0)] byte[]? Data,
    [property: Id(1)] bool End,
    [property: Id(2)] bool Lost)
{
    public static readonly FollowChunk EndOfBody = new(null, true, false);
    public static readonly FollowChunk Gone = new(null, false, true);
}
