using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

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

/// <summary>What the leader of a fill tells its followers the origin answered.</summary>
[GenerateSerializer, Immutable]
public sealed record FillOutcome(
    [property: Id(0)] FillOutcomeKind Kind,
    [property: Id(1)] EntryHead? Head = null,
    [property: Id(2)] int ErrorStatus = 0,
    [property: Id(3)] string? ErrorMessage = null)
{
    public static readonly FillOutcome Pass = new(FillOutcomeKind.Pass);
}
