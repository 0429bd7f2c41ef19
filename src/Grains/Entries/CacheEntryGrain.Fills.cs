using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.Fills;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace CacheCluster.Grains.Entries;

/// <summary>The owner's side of fills: the messages a leader and its followers send (docs/protocol.md, "Fills").</summary>
public sealed partial class CacheEntryGrain
{
    // ---- The leader --------------------------------------------------------------------------------------

    public Task<FillRole> BeginFillAsync(string cacheKey, long seenStoredAtUnixMs)
    {
        CheckOwnership();
        // A fill that ended between the caller's lookup and now already did what it asks for (two stale
        // readers must not revalidate twice): send it back to the fresh entry.
        if (_fills.Running is null && _loaded && (_head?.StoredAtUnixMs ?? 0) != seenStoredAtUnixMs)
            return Task.FromResult(new FillRole(0, IsLeader: false, EntryStore.MaxChunkBytes, EntryChanged: true));
        return Task.FromResult(JoinFill(cacheKey));
    }

    /// <summary>Follow the running fill, or lead a new one (replacing a stalled one).</summary>
    private FillRole JoinFill(string cacheKey)
    {
        var leader = FillLeaderTag.FromContext();
        var role = _fills.Join(cacheKey, out var replaced, leader is null ? null : () => LeaderDead(leader, cacheKey));
        if (replaced is not null)
            logger.LogWarning("Fill of {Key} ended after {Seconds} s without progress or with its node declared dead; starting a new one",
                replaced.CacheKey, (int)(DateTimeOffset.UtcNow - replaced.LastActivityUtc).TotalSeconds);
        return role;
    }

    /// <summary>Whether the node leading a fill of <paramref name="cacheKey"/> was declared dead (said once per fill, when it ends).</summary>
    private bool LeaderDead(SiloAddress leader, string cacheKey)
    {
        if (!ranking.IsDead(leader)) return false;
        logger.LogWarning("Fill of {Key} ended: its leading node {Node} was declared dead; its followers fetch on their own", cacheKey, leader);
        return true;
    }

    public Task<FillAck> PublishAsync(long fillId, FillOutcome outcome)
    {
        var ack = _fills.Publish(fillId, outcome, out var ended);
        // Not storable (no-store, private, an error): followers already have their answer; free the activation.
        if (ended && _head is null) this.DeactivateOnIdle();
        return Task.FromResult(ack);
    }

    public async Task<FillAck> AppendChunkAsync(long fillId, int index, Immutable<byte[]> data)
    {
        var bytes = data.Value;
        if (_fills.BeforeChunk(fillId, index, bytes.Length) is not { } fill) return FillAck.NotCurrent;
        await store.WriteChunkAsync(_keyHash, fill.Generation, index, bytes);
        _fills.AfterChunk(fill, bytes);
        return FillAck.Accepted;
    }

    public Task<FillAck> CommitFillAsync(long fillId, long bodyLength, Immutable<byte[]> lastChunk)
    {
        if (_fills.Current(fillId) is null) return Task.FromResult(FillAck.NotCurrent);
        Withdraw(); // lookups on this node ask the grain (and wait for the commit) until the new head is found
        // Set before the first await: a lookup that arrives while the store writes (held by a checkpoint, say)
        // waits for the entry instead of following a fill whose body is already all here.
        var commit = CommitCoreAsync(fillId, bodyLength, lastChunk.Value);
        if (!commit.IsCompleted) _committing = commit;
        return commit;
    }

    private async Task<FillAck> CommitCoreAsync(long fillId, long bodyLength, byte[] lastChunk)
    {
        if (lastChunk.Length > 0)
        {
            var current = _fills.Current(fillId)!;
            if (await AppendChunkAsync(fillId, current.NextIndex, new Immutable<byte[]>(lastChunk)) != FillAck.Accepted) return FillAck.NotCurrent;
        }
        if (_fills.Current(fillId) is not { } fill) return FillAck.NotCurrent;
        if (fill.Head is null)
        {
            _fills.End(fill, lost: true); // nothing was published to store: a leader bug, not a race
            return FillAck.Refused;
        }
        if (fill.Bytes != bodyLength)
        {
            logger.LogWarning("Refused to commit {Key}: received {Received} body bytes but the response had {Declared}",
                fill.CacheKey, fill.Bytes, bodyLength);
            _fills.End(fill, lost: true);
            return FillAck.Refused;
        }
        var committed = fill.Head with
        {
            BodyLength = bodyLength,
            ChunkCount = fill.NextIndex,
            Generation = fill.Generation,
            StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed),
            new EntryExtent(committed.Generation, committed.ChunkCount, committed.BodyLength, fill.Floor));
        SetHead(committed);
        _loaded = true;
        DropHotCopies(fill.CacheKey);
        _fills.Committed(fill, committed);
        // Written whole: the next lookups on this node read it without a call (a miss's first hit came here).
        Publish(committed, committing: true);
        return FillAck.Accepted;
    }

    /// <summary>Waits for a commit being written (see <see cref="CommitFillAsync"/>); its failure is its caller's.</summary>
    private async ValueTask AwaitCommitAsync()
    {
        var commit = _committing!;
        try { await commit; }
        catch (Exception) { /* reported to the leader; the lookup goes on with what is there */ }
        if (ReferenceEquals(_committing, commit)) _committing = null;
    }

    public async Task<FillAck> RefreshFillAsync(long fillId, EntryHead refreshed)
    {
        if (_fills.Current(fillId) is not { } fill) return FillAck.NotCurrent;
        // The stored body must still be whole: the refreshed head keeps pointing at it (and at its floor).
        if (_head is not { } current || current.Generation != refreshed.Generation || current.ChunkCount != refreshed.ChunkCount
            || !store.TryGetExtent(_keyHash, out var extent) || extent.Generation != current.Generation)
        {
            _fills.End(fill, lost: true);
            return FillAck.Refused;
        }
        var committed = refreshed with { StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        Withdraw();
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed), extent);
        SetHead(committed);
        DropHotCopies(committed.CacheKey);
        _fills.Refreshed(fill, committed);
        return FillAck.Accepted;
    }

    public Task AbortFillAsync(long fillId)
    {
        if (_fills.Current(fillId) is { } fill) _fills.End(fill, lost: true);
        return Task.CompletedTask;
    }

    // ---- Followers ---------------------------------------------------------------------------------------

    public Task<FillOutcome> FollowAsync(long fillId) => _fills.FollowAsync(fillId);

    public async Task<FollowChunk> FollowChunkAsync(long fillId, long generation, int index)
    {
        var fill = _fills.Find(fillId);
        if (fill is null)
        {
            // Not a fill we know any more: if it became the stored entry, serve from that.
            if (_head is { } head && head.Generation == generation)
            {
                if (index >= head.ChunkCount) return FollowChunk.EndOfBody;
                var stored = await store.ReadChunkAsync(_keyHash, generation, index);
                return stored is null ? FollowChunk.Gone : new FollowChunk(stored, false, false);
            }
            return FollowChunk.Gone;
        }
        switch (await _fills.WaitForChunkAsync(fill, index))
        {
            case ChunkWait.EndOfBody: return FollowChunk.EndOfBody;
            case ChunkWait.Gone: return FollowChunk.Gone;
        }
        var bytes = index == 0 && fill.FirstChunk is { } first ? first : await store.ReadChunkAsync(_keyHash, fill.Generation, index);
        return bytes is null ? FollowChunk.Gone : new FollowChunk(bytes, false, false);
    }
}
