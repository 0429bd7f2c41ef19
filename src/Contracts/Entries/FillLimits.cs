namespace CacheCluster.Contracts.Entries;

/// <summary>
/// The time limits of the fill protocol, in one place: the owner enforces them (src/Grains/Protocol/Fills), the
/// follower calls' timeouts on <see cref="ICacheEntryGrain"/> must stay above them. docs/protocol.md lists them.
/// </summary>
public static class FillLimits
{
    /// <summary>A fill with no progress (no publish, no chunk) for this long is presumed dead (its node crashed
    /// or hung): the next request replaces it, and followers waiting for a chunk are cut off.</summary>
    public static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(30);

    /// <summary>How often a waiting follower checks whether the fill's leading node was declared dead (then the fill ends at once).</summary>
    public static readonly TimeSpan LeaderCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a follower waits for the leader's outcome before it fetches on its own.</summary>
    public static readonly TimeSpan FollowWait = TimeSpan.FromSeconds(20);

    /// <summary>Call timeout of the two waiting follower calls: above <see cref="StallLimit"/> and <see cref="FollowWait"/>
    /// (an attribute argument, hence text).</summary>
    public const string FollowCallTimeout = "00:00:45";

    /// <summary>How long an invalidation waits for the nodes holding hot copies to confirm their drop.</summary>
    public static readonly TimeSpan HotDropConfirmWait = TimeSpan.FromSeconds(2);

    /// <summary>How long a full Vary marker waits for its oldest variants' hit counts before choosing one to drop.</summary>
    public static readonly TimeSpan VariantHitsWait = TimeSpan.FromSeconds(2);
}
