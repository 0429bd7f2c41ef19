namespace CacheCluster.Grains.Protocol.Fills;

/// <summary>Where one fill is in its life (a fill: the one origin fetch an owner lets run for its URL).</summary>
public enum FillState
{
    /// <summary>The leader is fetching: followers wait for its outcome and chunks. One with no progress for
    /// <see cref="Contracts.Entries.FillLimits.StallLimit"/> counts as stalled (see <see cref="Fill.Stalled"/>).</summary>
    Running,
    /// <summary>Ended well: committed, refreshed by a 304, or ended with an outcome followers act on (pass, error, Vary).
    /// Followers still streaming it read the rest from the store.</summary>
    Done,
    /// <summary>Ended badly: aborted, stalled, or refused at commit. Nothing of it is served; followers mid-body are cut off.</summary>
    Lost,
}
