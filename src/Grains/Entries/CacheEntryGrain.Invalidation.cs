using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Entries;

/// <summary>Hot copies and invalidation: whenever the head changes, the nodes holding copies of it drop them.</summary>
public sealed partial class CacheEntryGrain
{
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A published head stays: its hits need no activation, and the key's next activation reclaims it as it loads
        // (every change of an entry goes through an activation). Ownership moving elsewhere retires it by its view.
        _published = null;
        // The registrations die with this activation: copies must not outlive what vouches for them. Not while the
        // silo shuts down: it sends no more messages (each would fail with a logged error), this node's own copies die
        // with the process, and other nodes' copies expire within HotEntries.MaxHold.
        if (_head is { } head && reason.ReasonCode != DeactivationReasonCode.ShuttingDown) DropHotCopies(head.CacheKey);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Tells every node holding a hot copy to drop it, without waiting (one-way messages: a dead node needs no answer;
    /// a drop that is lost is bounded by HotEntries.MaxHold). Invalidation waits instead (<see cref="InvalidateAsync"/>).
    /// </summary>
    private void DropHotCopies(string cacheKey)
    {
        foreach (var node in _hotCopies.TakeAll())
        {
            if (!ranking.IsActiveNode(node)) continue; // leaving or gone: its copies go with it
            try { _ = GrainFactory.GetGrain<INodeGrain>(node).DropHotAsync(cacheKey); }
            catch (Exception ex) { logger.LogDebug("Could not tell {Node} to drop its hot copy: {Message}", node, ex.Message); }
        }
    }

    public async Task<int> InvalidateAsync()
    {
        if (!_loaded) await LoadAsync();
        if (_head is not { } head)
        {
            // Nothing here (often: a compressed form that was never made): keep no activation for it.
            if (_fills.Running is null) this.DeactivateOnIdle();
            return 0;
        }
        // An invalidation (RFC 9111 4.4) must be visible on every node before the unsafe request's response goes
        // out: the nodes holding hot copies confirm the drop (briefly awaited), rather than one-way messages.
        var nodes = _hotCopies.TakeAll().Where(ranking.IsActiveNode).ToList();
        // The marker goes first, so no variant registers under it while its variants are removed.
        await DropAsync(head, "invalidated");
        var dropped = nodes.Count > 0
            ? Task.WhenAll(nodes.Select(n => GrainFactory.GetGrain<INodeGrain>(n).DropHotConfirmedAsync(head.CacheKey))).WaitAsync(FillLimits.HotDropConfirmWait)
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
        else if (EncodedForms.MayHaveForms(head))
        {
            // Its compressed forms go with it (not counted: they are the same response). They could never be selected
            // again anyway (their keys name this body); this frees their space and their hot copies now.
            await Task.WhenAll(EncodedForms.KeysOf(head).Select(async key =>
            {
                try { await GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InvalidateAsync(); }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    logger.LogDebug("Compressed form of {Key} not invalidated ({Message}); it is unreachable and will age out", head.CacheKey, ex.Message);
                }
            }));
        }
        try { await dropped; }
        catch (Exception ex) { logger.LogDebug("A node did not confirm dropping its hot copy of {Key}: {Message}", head.CacheKey, ex.Message); }
        return removed;
    }
}
