using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

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
