using CacheCluster.Contracts.Entries;

namespace CacheCluster.Grains.Protocol.Fills;

/// <summary>What a follower waiting for chunk i of a fill finds.</summary>
public enum ChunkWait
{
    /// <summary>The chunk has arrived: read it (chunk 0 from <see cref="Fill.FirstChunk"/> if still held, else the store).</summary>
    Available,
    /// <summary>The fill is <see cref="FillState.Done"/> and has no such chunk: the body ended.</summary>
    EndOfBody,
    /// <summary>The fill is <see cref="FillState.Lost"/> or stalled: cut the client off.</summary>
    Gone,
}

/// <summary>
/// The single-flight of one URL on its owner: at most one <see cref="Fill"/> runs; the first request for a missing
/// or stale entry leads it, every other request (from any node) follows it. A fill with no progress for
/// <see cref="FillLimits.StallLimit"/> is presumed dead and replaced by the next request that asks; one whose leading
/// node was declared dead (<see cref="Fill.Orphaned"/>) at once, and its waiting followers are released within
/// <see cref="FillLimits.LeaderCheckInterval"/>. The ended fill
/// stays findable for followers that arrive late. No Orleans here: the owner grain calls it from its turns, tests
/// drive it with a fake clock.
/// </summary>
public sealed class FillSingleFlight(Func<long> newGeneration, Func<long> chunkFloor, int chunkBytes, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>A waiting follower checks this long after the fill would have stalled (the limit is strict).</summary>
    private static readonly TimeSpan StallCheckSlack = TimeSpan.FromMilliseconds(10);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>The running fill, if any.</summary>
    public Fill? Running { get; private set; }

    /// <summary>The last fill that ended (late followers still find it).</summary>
    public Fill? Ended { get; private set; }

    /// <summary>
    /// Where a caller asking to fill <paramref name="cacheKey"/> stands: follower of the running fill, or leader of
    /// a new one. A stalled running fill is ended as lost first (<paramref name="replaced"/>: it, for the log).
    /// </summary>
    /// <param name="leaderDead">For a new fill: whether its leading node has been declared dead (null: unknown).</param>
    public FillRole Join(string cacheKey, out Fill? replaced, Func<bool>? leaderDead = null)
    {
        replaced = null;
        if (Running is { } running)
        {
            if (!running.Stalled && !running.Orphaned) return new FillRole(running.Id, IsLeader: false, chunkBytes);
            replaced = running;
            End(running, lost: true);
        }
        var fill = new Fill(Random.Shared.NextInt64(1, long.MaxValue), newGeneration(), chunkFloor(), cacheKey, _time) { LeaderDead = leaderDead };
        Running = fill;
        return new FillRole(fill.Id, IsLeader: true, chunkBytes);
    }

    /// <summary>The running fill if it is <paramref name="fillId"/>; null when that fill ended or was replaced (a stale id).</summary>
    public Fill? Current(long fillId) => Running is { } f && f.Id == fillId ? f : null;

    /// <summary>The running or last ended fill with this id.</summary>
    public Fill? Find(long fillId) => Current(fillId) ?? (Ended is { } e && e.Id == fillId ? e : null);

    /// <summary>
    /// The leader's outcome. Stream: followers start streaming (the fill keeps running); anything else ends the
    /// fill and is what followers act on. <paramref name="ended"/>: the fill ended here.
    /// </summary>
    public FillAck Publish(long fillId, FillOutcome outcome, out bool ended)
    {
        ended = false;
        if (Current(fillId) is not { } fill) return FillAck.NotCurrent;
        if (outcome.Kind == FillOutcomeKind.Stream && outcome.Head is { } head)
        {
            fill.Head = head with { Generation = fill.Generation };
            fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Stream, fill.Head));
            fill.Signal();
            return FillAck.Accepted;
        }
        fill.Outcome.TrySetResult(outcome);
        End(fill, lost: false);
        ended = true;
        return FillAck.Accepted;
    }

    /// <summary>
    /// Checks chunk <paramref name="index"/> before it is written: the fill it belongs to, or null when the id is
    /// stale. Out of order or a wrong size is a leader bug and throws.
    /// </summary>
    public Fill? BeforeChunk(long fillId, int index, int length)
    {
        if (Current(fillId) is not { } fill) return null;
        if (index != fill.NextIndex) throw new InvalidOperationException($"Chunk {index} arrived out of order; expected {fill.NextIndex}.");
        if (length == 0 || length > chunkBytes) throw new ArgumentException($"Chunk size {length} is outside 1..{chunkBytes}.");
        return fill;
    }

    /// <summary>Chunk written to the store: followers may read it.</summary>
    public void AfterChunk(Fill fill, byte[] bytes)
    {
        if (fill.NextIndex == 0) fill.FirstChunk = bytes;
        fill.Bytes += bytes.Length;
        fill.NextIndex++;
        fill.Signal();
    }

    /// <summary>The fill's body is the stored entry now (<paramref name="committed"/>).</summary>
    public void Committed(Fill fill, EntryHead committed)
    {
        fill.Head = committed;
        End(fill, lost: false);
    }

    /// <summary>A 304 refreshed the stored entry: followers stream its (unchanged) body under its own generation.</summary>
    public void Refreshed(Fill fill, EntryHead committed)
    {
        fill.Generation = committed.Generation;
        fill.NextIndex = committed.ChunkCount;
        fill.Bytes = committed.BodyLength;
        fill.Head = committed;
        fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Stream, committed));
        End(fill, lost: false);
    }

    /// <summary>The URL turned out to vary: followers look up again and follow their variant's fill.</summary>
    public void VaryCommitted(Fill fill, EntryHead marker)
    {
        fill.Head = marker;
        fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Vary, marker));
        End(fill, lost: false);
    }

    /// <summary>Ends a fill: <see cref="FillState.Done"/>, or <see cref="FillState.Lost"/> (nothing of it is served).</summary>
    public void End(Fill fill, bool lost)
    {
        fill.State = lost ? FillState.Lost : FillState.Done;
        // The ended fill stays findable by late followers for the activation's life, but its first chunk must not:
        // up to 64 KiB per URL held outside the store's budget (followers read it from the store).
        fill.FirstChunk = null;
        // Followers still waiting for an outcome fetch on their own.
        fill.Outcome.TrySetResult(FillOutcome.Pass);
        fill.Signal();
        if (ReferenceEquals(Running, fill)) Running = null;
        Ended = fill;
    }

    /// <summary>
    /// A follower waits for the leader's outcome, at most <see cref="FillLimits.FollowWait"/> (then, or for an
    /// unknown fill: <see cref="FillOutcome.Pass"/>, fetch on your own).
    /// </summary>
    public async Task<FillOutcome> FollowAsync(long fillId)
    {
        if (Find(fillId) is not { } fill) return FillOutcome.Pass;
        var deadline = _time.GetUtcNow() + FillLimits.FollowWait;
        // Waited for in slices when the leader is known: a leader declared dead meanwhile ends the fill.
        while (!fill.Outcome.Task.IsCompleted)
        {
            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero) return FillOutcome.Pass;
            if (fill.Orphaned) { End(fill, lost: true); break; }
            var slice = fill.LeaderDead is null ? left : (left < FillLimits.LeaderCheckInterval ? left : FillLimits.LeaderCheckInterval);
            await Task.WhenAny(fill.Outcome.Task, Task.Delay(slice, _time));
        }
        var outcome = await fill.Outcome.Task;
        // A fill that already committed hands out the committed head (its final length is known).
        return outcome.Kind == FillOutcomeKind.Stream && fill.Head is { } head ? new FillOutcome(FillOutcomeKind.Stream, head) : outcome;
    }

    /// <summary>Waits until chunk <paramref name="index"/> of <paramref name="fill"/> has arrived, the body ended, or the fill is gone.</summary>
    public async Task<ChunkWait> WaitForChunkAsync(Fill fill, int index)
    {
        while (true)
        {
            if (index < fill.NextIndex) return ChunkWait.Available;
            if (fill.State == FillState.Done) return ChunkWait.EndOfBody;
            if (fill.State == FillState.Lost || fill.Stalled) return ChunkWait.Gone;
            if (fill.Orphaned) { End(fill, lost: true); return ChunkWait.Gone; }
            // Wake at the next progress, just after the moment the fill would count as stalled, or at the next
            // check of its leader.
            var wait = Max(FillLimits.StallLimit - (_time.GetUtcNow() - fill.LastActivityUtc), TimeSpan.Zero) + StallCheckSlack;
            if (fill.LeaderDead is not null && wait > FillLimits.LeaderCheckInterval) wait = FillLimits.LeaderCheckInterval;
            await Task.WhenAny(fill.Progress, Task.Delay(wait, _time));
        }
    }
}
