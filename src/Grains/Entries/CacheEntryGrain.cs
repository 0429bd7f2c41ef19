using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Placement;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace CacheCluster.Grains.Entries;

/// <summary>
/// Owns one URL's entry on the key's rendezvous owner node.
/// <list type="bullet">
/// <item>Lookups: the head is kept in the activation; body chunks are read from the node's FASTER store.</item>
/// <item>Fills (single-flight): one leader fetches from the origin and streams chunks in; every other request
/// for the URL, from any node, follows that fill and streams the same chunks as they arrive. Chunks are
/// written first and the header record last, so an abort or crash never leaves a servable partial entry.</item>
/// <item>Ownership: when membership changes and this node is no longer the owner, the activation migrates;
/// the new owner's activation takes the entry over from the previous owner (handoff) instead of refetching.</item>
/// </list>
/// </summary>
[Reentrant]
[OwnerPlacement]
// Idle activations go after 2 minutes: an activation costs memory outside the store's budgets (docs/architecture.md,
// "Memory"), and a lookup that activates one again only re-reads a header the store's table already knows about.
[CollectionAgeLimit(Minutes = 2)]
public sealed class CacheEntryGrain(
    EntryStore store,
    OwnerRanking ranking,
    ILocalSiloDetails localSilo,
    ILogger<CacheEntryGrain> logger) : Grain, ICacheEntryGrain
{
    /// <summary>Bodies up to this size come whole with a lookup (a 64 KiB object is two store chunks).</summary>
    private const int WholeBodyLimit = 256 * 1024;

    /// <summary>A fill with no progress for this long is presumed dead (its node crashed or hung).</summary>
    private static readonly TimeSpan FillStallLimit = TimeSpan.FromSeconds(30);

    /// <summary>How often a waiting follower checks whether the fill's leading node was declared dead.</summary>
    private static readonly TimeSpan LeaderCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long a follower waits for the leader's outcome before fetching on its own.</summary>
    private static readonly TimeSpan FollowWait = TimeSpan.FromSeconds(20);

    private Guid _key;
    private UInt128 _keyHash;
    private bool _loaded;
    private EntryHead? _head;
    private Fill? _fill;
    private Fill? _previousFill;
    private OwnerRanking.ViewVersion _checkedVersion;
    /// <summary>Nodes holding a hot copy of the current head: told to drop it whenever the head changes.</summary>
    private HashSet<string>? _hotNodes;
    /// <summary>Lookups that found the entry since this activation started (management: inspect).</summary>
    private long _hits;

    private sealed class Fill
    {
        public required long Id;
        public required long Generation; // a 304 revalidation re-points it at the stored body
        public required string CacheKey;
        /// <summary>Store log address below none of this fill's records (taken before its first chunk).</summary>
        public required long Floor;
        public int NextIndex;
        public long Bytes;
        public byte[]? FirstChunk;
        public DateTime LastActivityUtc;
        /// <summary>The node whose request leads this fill (null if unknown): its death ends the fill at once.</summary>
        public SiloAddress? Leader;
        public EntryHead? Head;
        public bool Done;
        public bool Lost;
        public readonly TaskCompletionSource<FillOutcome> Outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource _progress = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Progress => _progress.Task;

        /// <summary>Wakes every follower waiting for the next chunk (or the end).</summary>
        public void Signal()
        {
            LastActivityUtc = DateTime.UtcNow;
            var old = _progress;
            _progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            old.TrySetResult();
        }

        public bool Stalled(DateTime now) => !Done && !Lost && now - LastActivityUtc > FillStallLimit;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = this.GetPrimaryKey();
        _keyHash = CacheKeyHash.FromGuid(_key);
        return Task.CompletedTask;
    }

    // ---- Lookups ---------------------------------------------------------------------------------------

    public async Task<LookupResult> LookupAsync(string cacheKey, bool wantFill, string? hotCopyNode = null)
    {
        CheckOwnership();
        if (!_loaded) await LoadAsync();
        var head = _head;
        if (head is not null && string.Equals(head.CacheKey, cacheKey, StringComparison.Ordinal))
        {
            // Servable whole or not at all: an entry the disk budget has cut into (or dropped) is a miss.
            if (!store.IsWhole(_keyHash, head.Generation))
            {
                await DropAsync(head, "evicted");
                return Miss(cacheKey, wantFill);
            }
            if (hotCopyNode is not null) (_hotNodes ??= new HashSet<string>(StringComparer.Ordinal)).Add(hotCopyNode);
            _hits++;
            store.NoteHit(_keyHash);
            if (head.BodyLength == 0) return new LookupResult(head, null, null, localSilo.Name);
            var first = await store.ReadChunkAsync(_keyHash, head.Generation, 0);
            if (first is not null)
            {
                // A small body split over a few chunks travels whole: one round trip instead of several.
                byte[][]? more = null;
                if (head.ChunkCount > 1 && head.BodyLength <= WholeBodyLimit)
                {
                    more = new byte[head.ChunkCount - 1][];
                    for (int i = 1; i < head.ChunkCount; i++)
                        if ((more[i - 1] = (await store.ReadChunkAsync(_keyHash, head.Generation, i))!) is null) { more = null; break; }
                }
                // The reader will stream the rest: keep the entry (copied forward if need be) while it does.
                if (more is null && head.ChunkCount > 1) store.Pin(_keyHash);
                return new LookupResult(head, first, null, localSilo.Name, more);
            }
            // Failed its checksum or a disk read: forget it and treat as a miss.
            await DropAsync(head, "first chunk unreadable");
        }
        return Miss(cacheKey, wantFill);
    }

    private LookupResult Miss(string cacheKey, bool wantFill)
    {
        // Nothing stored and nothing to lead: this activation holds nothing worth keeping (a no-store URL must not
        // keep a grain for minutes).
        if (!wantFill && _fill is null) this.DeactivateOnIdle();
        return new LookupResult(null, null, wantFill ? Ticket(cacheKey) : null, localSilo.Name);
    }

    public async Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index)
    {
        // Pinned while a reader streams it; the last chunk ends the pin.
        if (_head is { } current && current.Generation == generation && index == current.ChunkCount - 1) store.Unpin(_keyHash);
        else store.Pin(_keyHash);
        var bytes = await store.ReadChunkAsync(_keyHash, generation, index);
        if (bytes is null && _head is { } head && head.Generation == generation)
            await DropAsync(head, $"chunk {index} missing");
        // A reader that began on the previous owner (ownership moved mid-body: a node joined or left) asks for a
        // generation this node never had; the previous owner's store still holds those chunks.
        if (bytes is null && (_head is null || _head.Generation != generation))
            bytes = await ReadFromPreviousOwnerAsync(generation, index);
        return new Immutable<byte[]?>(bytes);
    }

    private async Task<byte[]?> ReadFromPreviousOwnerAsync(long generation, int index)
    {
        SiloAddress? previous;
        try { previous = ranking.OwnersNow(_key).RunnerUp; }
        catch (OrleansException) { return null; }
        if (previous is null || previous.Equals(localSilo.SiloAddress)) return null;
        try { return (await GrainFactory.GetGrain<INodeGrain>(previous.ToParsableString()).ReadChunkAsync(_key, generation, index)).Value; }
        catch (Exception ex) when (ex is SiloUnavailableException or TimeoutException or OrleansException) { return null; }
    }

    // ---- Fills: the leader -----------------------------------------------------------------------------

    public Task<FillTicket> BeginFillAsync(string cacheKey, long seenStoredAtUnixMs)
    {
        CheckOwnership();
        // A fill that ended between the caller's lookup and now already did what it asks for (two stale
        // readers must not revalidate twice): send it back to the fresh entry.
        if (_fill is null && _loaded && (_head?.StoredAtUnixMs ?? 0) != seenStoredAtUnixMs)
            return Task.FromResult(new FillTicket(0, IsLeader: false, EntryStore.MaxChunkBytes, EntryChanged: true));
        return Task.FromResult(Ticket(cacheKey));
    }

    private FillTicket Ticket(string cacheKey)
    {
        var now = DateTime.UtcNow;
        if (_fill is { } running)
        {
            if (!running.Stalled(now) && !LeaderDead(running)) return new FillTicket(running.Id, IsLeader: false, EntryStore.MaxChunkBytes);
            logger.LogWarning("Fill of {Key} stalled for {Seconds} s (its node may have failed); starting a new one",
                running.CacheKey, (int)(now - running.LastActivityUtc).TotalSeconds);
            End(running, lost: true);
        }
        _fill = new Fill
        {
            Id = Random.Shared.NextInt64(1, long.MaxValue),
            Generation = store.NewGeneration(),
            Floor = store.ChunkFloor,
            CacheKey = cacheKey,
            LastActivityUtc = now,
            Leader = FillLeader.FromContext(),
        };
        logger.LogDebug("Fill of {Key} led by {Leader}", cacheKey, _fill.Leader?.ToString() ?? "an unknown node");
        return new FillTicket(_fill.Id, IsLeader: true, EntryStore.MaxChunkBytes);
    }

    public Task PublishAsync(long fillId, FillOutcome outcome)
    {
        var fill = Current(fillId);
        if (outcome.Kind == FillOutcomeKind.Stream && outcome.Head is { } head)
        {
            fill.Head = head with { Generation = fill.Generation };
            fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Stream, fill.Head));
            fill.Signal();
        }
        else
        {
            fill.Outcome.TrySetResult(outcome);
            End(fill, lost: false);
            // Not storable (no-store, private, an error): followers already have their answer; free the activation.
            if (_head is null) this.DeactivateOnIdle();
        }
        return Task.CompletedTask;
    }

    public async Task AppendChunkAsync(long fillId, int index, Immutable<byte[]> data)
    {
        var fill = Current(fillId);
        if (index != fill.NextIndex) throw new InvalidOperationException($"Chunk {index} arrived out of order; expected {fill.NextIndex}.");
        var bytes = data.Value;
        if (bytes.Length == 0 || bytes.Length > EntryStore.MaxChunkBytes) throw new ArgumentException($"Chunk size {bytes.Length} is outside 1..{EntryStore.MaxChunkBytes}.");
        await store.WriteChunkAsync(_keyHash, fill.Generation, index, bytes);
        if (index == 0) fill.FirstChunk = bytes;
        fill.Bytes += bytes.Length;
        fill.NextIndex++;
        fill.Signal();
    }

    public async Task<bool> CommitFillAsync(long fillId, long bodyLength)
    {
        if (_fill is not { } fill || fill.Id != fillId || fill.Head is null) return false;
        if (fill.Bytes != bodyLength)
        {
            logger.LogWarning("Refused to commit {Key}: received {Received} body bytes but the response had {Declared}",
                fill.CacheKey, fill.Bytes, bodyLength);
            End(fill, lost: true);
            return false;
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
        _head = committed;
        _loaded = true;
        DropHotCopies(fill.CacheKey);
        fill.Head = committed;
        End(fill, lost: false);
        return true;
    }

    public async Task<bool> RefreshFillAsync(long fillId, EntryHead refreshed)
    {
        if (_fill is not { } fill || fill.Id != fillId) return false;
        // The stored body must still be whole: the refreshed head keeps pointing at it (and at its floor).
        if (_head is not { } current || current.Generation != refreshed.Generation || current.ChunkCount != refreshed.ChunkCount
            || !store.TryGetExtent(_keyHash, out var extent) || extent.Generation != current.Generation)
        {
            End(fill, lost: true);
            return false;
        }
        var committed = refreshed with { StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed), extent);
        _head = committed;
        DropHotCopies(committed.CacheKey);
        // Followers stream the (unchanged) stored body under its own generation.
        fill.Generation = committed.Generation;
        fill.NextIndex = committed.ChunkCount;
        fill.Bytes = committed.BodyLength;
        fill.Head = committed;
        fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Stream, committed));
        End(fill, lost: false);
        return true;
    }

    public Task AbortFillAsync(long fillId)
    {
        if (_fill is { } fill && fill.Id == fillId) End(fill, lost: true);
        return Task.CompletedTask;
    }

    private Fill Current(long fillId) =>
        _fill is { } fill && fill.Id == fillId
            ? fill
            : throw new InvalidOperationException("The fill is no longer current (it was aborted, expired or replaced).");

    private void End(Fill fill, bool lost)
    {
        fill.Done = !lost;
        fill.Lost = lost;
        // The ended fill stays findable by late followers (_previousFill) for the activation's life, but its first
        // chunk must not: up to 64 KiB per URL held outside the store's budget (followers read it from the store).
        fill.FirstChunk = null;
        // Followers still waiting for an outcome fetch on their own.
        fill.Outcome.TrySetResult(FillOutcome.Pass);
        fill.Signal();
        if (ReferenceEquals(_fill, fill)) _fill = null;
        _previousFill = fill;
    }

    // ---- Fills: followers ------------------------------------------------------------------------------

    public async Task<FillOutcome> FollowAsync(long fillId)
    {
        var fill = Find(fillId);
        if (fill is null) return FillOutcome.Pass;
        // Waited for in short slices: a leader declared dead meanwhile ends the fill (followers fetch on their own).
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!fill.Outcome.Task.IsCompleted)
        {
            if (waited.Elapsed >= FollowWait) return FillOutcome.Pass;
            if (LeaderDead(fill)) End(fill, lost: true);
            else await Task.WhenAny(fill.Outcome.Task, Task.Delay(LeaderCheckInterval));
        }
        var outcome = await fill.Outcome.Task;
        // A fill that already committed hands out the committed head (its final length is known).
        return outcome.Kind == FillOutcomeKind.Stream && fill.Head is { } head ? new FillOutcome(FillOutcomeKind.Stream, head) : outcome;
    }

    public async Task<FollowChunk> FollowChunkAsync(long fillId, long generation, int index)
    {
        var fill = Find(fillId);
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
        while (true)
        {
            if (index < fill.NextIndex)
            {
                var bytes = index == 0 && fill.FirstChunk is { } first ? first : await store.ReadChunkAsync(_keyHash, fill.Generation, index);
                return bytes is null ? FollowChunk.Gone : new FollowChunk(bytes, false, false);
            }
            if (fill.Done) return FollowChunk.EndOfBody;
            if (fill.Lost || fill.Stalled(DateTime.UtcNow)) return FollowChunk.Gone;
            if (LeaderDead(fill)) { End(fill, lost: true); return FollowChunk.Gone; }
            await Task.WhenAny(fill.Progress, Task.Delay(LeaderCheckInterval));
        }
    }

    /// <summary>A running fill whose leading node has been declared dead will never progress.</summary>
    private bool LeaderDead(Fill fill)
    {
        if (fill.Done || fill.Lost || fill.Leader is not { } leader || !ranking.IsDead(leader)) return false;
        logger.LogWarning("Fill of {Key} ended: its leading node {Node} was declared dead; followers fetch on their own",
            fill.CacheKey, leader);
        return true;
    }

    private Fill? Find(long fillId) =>
        _fill is { } f && f.Id == fillId ? f : _previousFill is { } p && p.Id == fillId ? p : null;

    // ---- Invalidation, ownership, loading ---------------------------------------------------------------

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The registrations die with this activation: copies must not outlive what vouches for them. Not while the
        // silo shuts down: it sends no more messages (each would fail with a logged error), this node's own copies die
        // with the process, and other nodes' copies expire within HotEntries.MaxHold.
        if (_head is { } head && reason.ReasonCode != DeactivationReasonCode.ShuttingDown) DropHotCopies(head.CacheKey);
        return Task.CompletedTask;
    }

    /// <summary>Tells every node holding a hot copy to drop it (one-way messages: a dead node needs no answer).</summary>
    private void DropHotCopies(string cacheKey)
    {
        if (_hotNodes is not { Count: > 0 } nodes) return;
        _hotNodes = null;
        foreach (var node in nodes)
        {
            try { _ = GrainFactory.GetGrain<INodeGrain>(node).DropHotAsync(cacheKey); }
            catch (Exception ex) { logger.LogDebug("Could not tell {Node} to drop its hot copy: {Message}", node, ex.Message); }
        }
    }

    public async Task<int> InvalidateAsync()
    {
        if (!_loaded) await LoadAsync();
        if (_head is not { } head) return 0;
        // An invalidation (RFC 9111 4.4) must be visible on every node before the unsafe request's response goes
        // out: the nodes holding hot copies confirm the drop (briefly awaited), rather than one-way messages.
        var nodes = _hotNodes;
        _hotNodes = null;
        // The marker goes first, so no variant registers under it while its variants are removed.
        await DropAsync(head, "invalidated");
        var dropped = nodes is { Count: > 0 }
            ? Task.WhenAll(nodes.Select(n => GrainFactory.GetGrain<INodeGrain>(n).DropHotConfirmedAsync(head.CacheKey))).WaitAsync(TimeSpan.FromSeconds(2))
            : Task.CompletedTask;
        int removed = 1;
        if (VaryMarker.Is(head))
        {
            var variants = await Task.WhenAll(VaryMarker.Variants(head).Select(async key =>
            {
                try { return await GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InvalidateAsync(); }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Unreachable now: the variant can never be selected again (its marker's epoch is gone).
                    logger.LogInformation("Variant of {Key} not invalidated ({Message}); it is unreachable and will age out", head.CacheKey, ex.Message);
                    return 0;
                }
            }));
            removed = variants.Sum();
        }
        try { await dropped; }
        catch (Exception ex) { logger.LogDebug("A node did not confirm dropping its hot copy of {Key}: {Message}", head.CacheKey, ex.Message); }
        return removed;
    }

    // ---- Vary (RFC 9111 4.1): the URL's marker --------------------------------------------------------

    public async Task<bool> CommitVaryAsync(long fillId, EntryHead marker)
    {
        if (_fill is not { } fill || fill.Id != fillId || !VaryMarker.Is(marker)) return false;
        var previous = _head;
        var committed = marker with { BodyLength = 0, ChunkCount = 0, Generation = fill.Generation, StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed), MarkerExtent(committed));
        _head = committed;
        _loaded = true;
        DropHotCopies(committed.CacheKey);
        fill.Head = committed;
        fill.Outcome.TrySetResult(new FillOutcome(FillOutcomeKind.Vary, committed));
        End(fill, lost: false);
        // A marker replaced by a marker (not reached by the proxy today) must not strand the old variants.
        if (previous is not null && VaryMarker.Is(previous))
            foreach (var key in VaryMarker.Variants(previous))
                _ = GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InvalidateAsync();
        return true;
    }

    public async Task<bool> RegisterVariantAsync(string epoch, string variantKey)
    {
        if (!_loaded) await LoadAsync();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (_head is not { } marker || !VaryMarker.Is(marker) || VaryMarker.Epoch(marker) != epoch) return false;
            if (VaryMarker.HasVariant(marker, variantKey)) return true;
            string? evicted = null;
            var updated = VaryMarker.WithVariant(marker, variantKey);
            if (VaryMarker.VariantCount(marker) >= VaryMarker.MaxVariants || VaryMarker.Size(updated) > VaryMarker.MaxChars)
            {
                // Full: the least-hit of the oldest variants makes room, so one client's flood of one-off variants
                // displaces its own one-off variants, never the ones other clients keep hitting.
                evicted = await LeastHitVariantAsync(marker);
                if (!ReferenceEquals(_head, marker)) continue; // changed meanwhile: decide again
                updated = VaryMarker.WithVariant(VaryMarker.WithoutVariant(marker, evicted), variantKey);
                if (VaryMarker.Size(updated) > VaryMarker.MaxChars) return false;
            }
            // The head changes before the write is issued, so an invalidation arriving meanwhile drops this one.
            _head = updated;
            await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(updated), MarkerExtent(updated));
            if (evicted is not null)
            {
                logger.LogDebug("{Key} has {Count} variants, as many as it may; dropped the least-hit old one for a new one", marker.CacheKey, VaryMarker.MaxVariants);
                // No longer listed, so it must go now (an invalidation of the URL could not reach it any more).
                try { await GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(evicted)).InvalidateAsync(); }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    logger.LogInformation("Dropped variant of {Key} not invalidated ({Message}); it will age out", marker.CacheKey, ex.Message);
                }
            }
            return ReferenceEquals(_head, updated);
        }
        return false;
    }

    /// <summary>Among the oldest few registered variants, the one with the fewest hits (the oldest on a tie).</summary>
    private async Task<string> LeastHitVariantAsync(EntryHead marker)
    {
        var candidates = VaryMarker.Variants(marker).Take(VaryMarker.EvictionCandidates).ToList();
        var hits = await Task.WhenAll(candidates.Select(async key =>
        {
            try { return (await GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InspectAsync().WaitAsync(TimeSpan.FromSeconds(2))).Hits; }
            catch (Exception ex) when (ex is not OutOfMemoryException) { return 0L; } // unreachable: as good as unused
        }));
        int victim = 0;
        for (int i = 1; i < hits.Length; i++)
            if (hits[i] < hits[victim]) victim = i;
        return candidates[victim];
    }

    public async Task<CacheCluster.Contracts.Management.EntryInfo> InspectAsync()
    {
        if (!_loaded) await LoadAsync();
        return new(_head, _hits, localSilo.Name);
    }

    /// <summary>
    /// After a membership change, an activation on a node that no longer owns the key migrates once idle:
    /// Orleans re-places it through the owner placement (so the grain directory points callers at the new
    /// owner at once), and the new activation takes the entry over from here. A plain deactivation is not
    /// enough: callers with a cached address would re-create the activation on this node.
    /// </summary>
    private void CheckOwnership()
    {
        var version = ranking.Version;
        if (version == _checkedVersion) return;
        _checkedVersion = version;
        SiloAddress owner;
        try { owner = ranking.OwnersNow(_key).Owner; }
        catch (OrleansException) { return; } // no view yet (start-up): keep serving here
        if (!owner.Equals(localSilo.SiloAddress))
        {
            logger.LogDebug("Key {Key} now belongs to {Owner}; migrating this activation", _key, owner);
            this.MigrateOnIdle();
        }
    }

    /// <summary>A Vary marker has no body: its only record is the header, written at the tail.</summary>
    private EntryExtent MarkerExtent(EntryHead marker) => new(marker.Generation, 0, 0, store.ChunkFloor);

    private async Task LoadAsync()
    {
        var head = Decode(await store.ReadHeaderAsync(_keyHash));
        var taken = await TakeOverFromPreviousOwnerAsync(head);
        if (taken is not null) head = taken;
        _head = head;
        _loaded = true;
    }

    /// <summary>
    /// Handoff: the runner-up in the rendezvous ranking is the node that owned this key before the newest
    /// node joined (or while this node was away). If it holds a newer copy, copy it here chunk by chunk,
    /// then tell it to forget its copy so an invalidated entry can never come back from there.
    /// </summary>
    private async Task<EntryHead?> TakeOverFromPreviousOwnerAsync(EntryHead? local)
    {
        SiloAddress? previous;
        try { previous = ranking.OwnersNow(_key).RunnerUp; }
        catch (OrleansException) { return null; }
        if (previous is null || previous.Equals(localSilo.SiloAddress)) return null;
        var node = GrainFactory.GetGrain<INodeGrain>(previous.ToParsableString());
        try
        {
            var remote = Decode((await node.ReadHeaderAsync(_key)).Value);
            if (remote is null) return null;
            if (local is not null && local.StoredAtUnixMs >= remote.StoredAtUnixMs)
            {
                await node.ForgetAsync(_key);
                return null;
            }
            var generation = store.NewGeneration();
            long floor = store.ChunkFloor;
            for (int i = 0; i < remote.ChunkCount; i++)
            {
                var chunk = (await node.ReadChunkAsync(_key, remote.Generation, i)).Value;
                if (chunk is null) return null; // evicted there meanwhile: a miss here, refetched normally
                await store.WriteChunkAsync(_keyHash, generation, i, chunk);
            }
            var taken = remote with { Generation = generation };
            await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(taken), new EntryExtent(generation, taken.ChunkCount, taken.BodyLength, floor));
            await node.ForgetAsync(_key);
            logger.LogDebug("Took over {Key} ({Bytes} bytes) from {Previous}", remote.CacheKey, remote.BodyLength, previous);
            return taken;
        }
        catch (Exception ex) when (ex is SiloUnavailableException or TimeoutException or OrleansException)
        {
            logger.LogInformation("Handoff of key {Key} from {Previous} failed ({Message}); it will be refetched", _key, previous, ex.Message);
            return null;
        }
    }

    private EntryHead? Decode(byte[]? bytes)
    {
        if (bytes is null) return null;
        var head = EntryHeadCodec.TryDecode(bytes);
        if (head is null) logger.LogWarning("Unreadable header record for key {Key}; treating as a miss", _key);
        return head;
    }

    private async Task DropAsync(EntryHead head, string why)
    {
        if (!ReferenceEquals(_head, head)) return;
        _head = null;
        DropHotCopies(head.CacheKey);
        await store.DeleteHeaderAsync(_keyHash);
        logger.LogDebug("Dropped {Key}: {Why}", head.CacheKey, why);
    }
}
