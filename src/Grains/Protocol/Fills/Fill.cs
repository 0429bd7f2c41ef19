using CacheCluster.Contracts.Entries;

namespace CacheCluster.Grains.Protocol.Fills;

/// <summary>
/// One fill on its owner: the leader's progress (chunks so far, published head) and the signals its followers
/// wait on. Lives in one grain activation, so it is only touched from that activation's turns.
/// </summary>
public sealed class Fill
{
    private readonly TimeProvider _time;
    private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal Fill(long id, long generation, long floor, string cacheKey, TimeProvider time)
    {
        Id = id;
        Generation = generation;
        Floor = floor;
        CacheKey = cacheKey;
        _time = time;
        LastActivityUtc = time.GetUtcNow();
    }

    public long Id { get; }
    /// <summary>Store generation of this fill's chunks; a 304 revalidation re-points it at the stored body's.</summary>
    public long Generation { get; internal set; }
    public string CacheKey { get; }
    /// <summary>Store log address below none of this fill's records (taken before its first chunk).</summary>
    public long Floor { get; }
    public int NextIndex { get; internal set; }
    public long Bytes { get; internal set; }
    /// <summary>Chunk 0 kept in memory while running: most followers start there while it is being written.</summary>
    public byte[]? FirstChunk { get; internal set; }
    public DateTimeOffset LastActivityUtc { get; private set; }
    /// <summary>The head the leader published (then the committed one).</summary>
    public EntryHead? Head { get; internal set; }
    public FillState State { get; internal set; } = FillState.Running;

    /// <summary>
    /// Whether the node whose request leads this fill has been declared dead (a crash, a partition); null when
    /// the leader is unknown. A running fill whose leader is dead never progresses: it ends at once.
    /// </summary>
    public Func<bool>? LeaderDead { get; internal set; }

    /// <summary>Running, and its leading node is known to be dead.</summary>
    public bool Orphaned => State == FillState.Running && LeaderDead?.Invoke() == true;

    /// <summary>The leader's outcome; a fill that ends without one tells followers <see cref="FillOutcome.Pass"/>.</summary>
    internal TaskCompletionSource<FillOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next chunk, publish or end.</summary>
    internal Task Progress => _progress.Task;

    /// <summary>Running, but nothing happened for <see cref="FillLimits.StallLimit"/>: its leader is presumed dead.</summary>
    public bool Stalled => State == FillState.Running && _time.GetUtcNow() - LastActivityUtc > FillLimits.StallLimit;

    /// <summary>Wakes every follower waiting for the next chunk (or the end).</summary>
    internal void Signal()
    {
        LastActivityUtc = _time.GetUtcNow();
        var old = _progress;
        _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}
