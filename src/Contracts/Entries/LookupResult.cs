using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// A lookup's answer: the head and, to save round trips, the first body chunk (all chunks of a body up to
/// <see cref="WholeBodyLimit"/>); or, on a miss asked with wantFill, the caller's role in the URL's fill.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LookupResult(
    [property: Id(0)] EntryHead? Head,
    [property: Id(1)] byte[]? FirstChunk,
    [property: Id(2)] FillRole? Fill = null,
    [property: Id(3)] string? Owner = null,
    [property: Id(4)] byte[][]? MoreChunks = null)
{
    /// <summary>Bodies up to this size come whole with a lookup (a 64 KiB object is two store chunks).</summary>
    public const int WholeBodyLimit = 256 * 1024;

    /// <summary>Body chunk <paramref name="index"/> if this result carries it (small multi-chunk bodies come whole).</summary>
    public byte[]? Carried(int index) =>
        index == 0 ? FirstChunk : MoreChunks is { } more && index - 1 < more.Length ? more[index - 1] : null;
}
