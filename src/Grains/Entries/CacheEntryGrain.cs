using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Management;
using CacheCluster.Grains.Protocol.Fills;
using CacheCluster.Grains.Protocol.Handoff;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Protocol.Lookups;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace CacheCluster.Grains.Entries;

/// <summary>
/// Owns one URL's entry on the key's rendezvous owner node (the protocol: docs/protocol.md).
/// <list type="bullet">
/// <item>Lookups (this file): the head is kept in the activation; body chunks are read from the node's FASTER store.</item>
/// <item>Fills (CacheEntryGrain.Fills.cs, <see cref="FillSingleFlight"/>): one leader fetches from the origin and
/// streams chunks in; every other request for the URL, from any node, follows that fill. Chunks are written first
/// and the header record last, so an abort or crash never leaves a servable partial entry.</item>
/// <item>Hot copies and invalidation (CacheEntryGrain.Invalidation.cs, <see cref="HotCopyRegistry"/>), Vary markers
/// (CacheEntryGrain.Vary.cs).</item>
/// <item>Local lookups: a whole head found by a lookup is published on this node (<see cref="PublishedHeads"/>), so
/// the next lookups on this node read the store without a call; every change of the head withdraws it first. It
/// outlives the activation (an idle entry needs none); the next activation reclaims it as it loads.</item>
/// <item>Ownership: when membership changes and this node is no longer the owner, the activation migrates; the new
/// owner's activation takes the entry over from the previous owner as it starts (<see cref="EntryHandoff"/>).</item>
/// </list>
/// </summary>
[Reentrant]
[OwnerPlacement]
// Idle activations go after 2 minutes: an activation costs memory outside the store's budgets (docs/architecture.md,
// "Memory"), and a lookup that activates one again only re-reads a header the store's table already knows about.
[CollectionAgeLimit(Minutes = 2)]
public sealed partial class CacheEntryGrain(
    EntryStore store,
    OwnerRanking ranking,
    PublishedHeads published,
    ILocalSiloDetails localSilo,
    ILogger<CacheEntryGrain> logger) : Grain, ICacheEntryGrain
{
    private Guid _key;
    private UInt128 _keyHash;
    private bool _loaded;
    private EntryHead? _head;
    private Task<FillAck>? _committing; // a fill's commit being written; lookups wait for it (CommitFillAsync)
    private FillSingleFlight _fills = null!;
    private EntryHandoff _handoff = null!;
    private OwnerRanking.ViewVersion _checkedVersion;
    private bool _ownedHere;
    /// <summary>This activation's head as published for local lookups (null: not published).</summary>
    private PublishedHeads.Published? _published;
    /// <summary>Nodes holding a hot copy of the current head: told to drop it whenever the head changes.</summary>
    private readonly HotCopyRegistry _hotCopies = new();
    /// <summary>Lookups that found the entry since this activation started (management: inspect).</summary>
    private long _hits;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = this.GetPrimaryKey();
        _keyHash = CacheKeyHash.FromGuid(_key);
        _fills = new FillSingleFlight(store.NewGeneration, () => store.ChunkFloor, EntryStore.MaxChunkBytes);
        _handoff = new EntryHandoff(store, ranking, GrainFactory, localSilo.SiloAddress, logger);
        // Load, and take the entry over from its previous owner, before the first message whatever it is (a fresh
        // owner asked to begin a fill must know what the previous owner holds).
        try { await LoadAsync(cancellationToken); }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The store is failing or not open, or the handoff outlasted Orleans' activation timeout: the first call
            // that needs the entry loads again (and reports a failure to its caller).
            logger.LogDebug("Loading key {Key} at activation failed ({Message}); retried on use", _key, ex.Message);
        }
    }

    // ---- Lookups ---------------------------------------------------------------------------------------

    public async Task<LookupResult> LookupAsync(string cacheKey, bool wantFill, string? hotCopyNode = null)
    {
        CheckOwnership();
        if (_committing is not null) await AwaitCommitAsync();
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
            if (hotCopyNode is not null) _hotCopies.Register(hotCopyNode);
            _hits++;
            store.NoteHit(_keyHash);
            if (head.BodyLength == 0)
            {
                Publish(head);
                return new LookupResult(head, null, null, localSilo.Name);
            }
            var first = await store.ReadChunkAsync(_keyHash, head.Generation, 0);
            if (first is not null)
            {
                // A small body split over a few chunks travels whole: one round trip instead of several.
                byte[][]? more = null;
                if (head.ChunkCount > 1 && head.BodyLength <= LookupResult.WholeBodyLimit)
                {
                    more = new byte[head.ChunkCount - 1][];
                    for (int i = 1; i < head.ChunkCount; i++)
                        if ((more[i - 1] = (await store.ReadChunkAsync(_keyHash, head.Generation, i))!) is null) { more = null; break; }
                }
                // The reader will stream the rest: keep the entry (copied forward if need be) while it does.
                if (more is null && head.ChunkCount > 1) store.Pin(_keyHash);
                Publish(head);
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
        if (!wantFill && _fills.Running is null) this.DeactivateOnIdle();
        return new LookupResult(null, null, wantFill ? JoinFill(cacheKey) : null, localSilo.Name);
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
            bytes = await _handoff.ReadChunkAsync(_key, generation, index);
        return new Immutable<byte[]?>(bytes);
    }

    public async Task<EntryInfo> InspectAsync()
    {
        if (!_loaded) await LoadAsync();
        return new(_head, _hits + (_published?.HitCount ?? 0), localSilo.Name);
    }

    // ---- Ownership and loading ----------------------------------------------------------------------------

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
        _ownedHere = !ranking.IsOwnedElsewhere(_key, localSilo.SiloAddress, out var owner);
        if (!_ownedHere)
        {
            Withdraw();
            logger.LogDebug("Key {Key} now belongs to {Owner}; migrating this activation", _key, owner);
            this.MigrateOnIdle();
        }
    }

    private async Task LoadAsync(CancellationToken ct = default)
    {
        var head = _handoff.Decode(await store.ReadHeaderAsync(_keyHash), _key);
        // What an earlier activation left published comes back to this one first (it publishes again on a hit).
        if (head is not null) _hits += published.Reclaim(head.CacheKey);
        var taken = await _handoff.TakeOverAsync(_key, _keyHash, head, ct);
        if (taken is not null) head = taken;
        SetHead(head);
        _loaded = true;
    }

    private async Task DropAsync(EntryHead head, string why)
    {
        if (!ReferenceEquals(_head, head)) return;
        SetHead(null);
        DropHotCopies(head.CacheKey);
        await store.DeleteHeaderAsync(_keyHash);
        logger.LogDebug("Dropped {Key}: {Why}", head.CacheKey, why);
    }

    // ---- Local lookups (Protocol/Lookups/PublishedHeads.cs) -------------------------------------------------

    /// <summary>Every change of the head goes through here: a published head is withdrawn before anything else sees the new one.</summary>
    private void SetHead(EntryHead? head)
    {
        _head = head;
        Withdraw();
    }

    /// <summary>
    /// Publishes <paramref name="head"/> for lookups on this node, when it is still the current head, no commit is
    /// being written (but the one writing it, <paramref name="committing"/>, once its header is written), and this node
    /// owns the key under the view last checked.
    /// </summary>
    private void Publish(EntryHead head, bool committing = false)
    {
        if (!ReferenceEquals(_head, head) || (_committing is not null && !committing) || !_ownedHere || !PublishedHeads.Publishable(head)) return;
        if (_published is { } current && ReferenceEquals(current.Head, head) && current.Version == _checkedVersion && published.IsPublished(current)) return;
        Withdraw();
        _published = published.Publish(head, _keyHash, _checkedVersion);
    }

    private void Withdraw()
    {
        if (_published is not { } current) return;
        _published = null;
        published.Withdraw(current);
        _hits += current.HitCount;
    }
}
