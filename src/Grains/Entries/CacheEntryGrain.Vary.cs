using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Entries;

/// <summary>Vary (RFC 9111 4.1): the URL's <see cref="VaryMarker"/> and the variants registered under it.</summary>
public sealed partial class CacheEntryGrain
{
    public async Task<FillAck> CommitVaryAsync(long fillId, EntryHead marker)
    {
        if (_fills.Current(fillId) is not { } fill) return FillAck.NotCurrent;
        if (!VaryMarker.Is(marker)) return FillAck.Refused;
        var previous = _head;
        var committed = marker with { BodyLength = 0, ChunkCount = 0, Generation = fill.Generation, StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        Withdraw();
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed), MarkerExtent(committed));
        SetHead(committed);
        _loaded = true;
        DropHotCopies(committed.CacheKey);
        _fills.VaryCommitted(fill, committed);
        // A marker replaced by a marker (not reached by the proxy today) must not strand the old variants.
        if (previous is not null && VaryMarker.Is(previous))
            foreach (var key in VaryMarker.Variants(previous))
                _ = GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InvalidateAsync();
        return FillAck.Accepted;
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
            SetHead(updated);
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
            try { return (await GrainFactory.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(key)).InspectAsync().WaitAsync(FillLimits.VariantHitsWait)).Hits; }
            catch (Exception ex) when (ex is not OutOfMemoryException) { return 0L; } // unreachable: as good as unused
        }));
        int victim = 0;
        for (int i = 1; i < hits.Length; i++)
            if (hits[i] < hits[victim]) victim = i;
        return candidates[victim];
    }

    /// <summary>A Vary marker has no body: its only record is the header, written at the tail.</summary>
    private EntryExtent MarkerExtent(EntryHead marker) => new(marker.Generation, 0, 0, store.ChunkFloor);
}
