using System.Diagnostics;
using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Storage;
using CacheCluster.Grains.Protocol.Lookups;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.ClusterClient;

/// <summary>Asks an entry's owner what it holds for a key (and for a fill role when the request may fill).</summary>
public sealed class OwnerLookup(ILogger<OwnerLookup> logger, OwnerRanking ranking, UnresponsiveOwners unresponsive, ILocalSiloDetails local,
    PublishedHeads published)
{
    /// <summary>The owner's answer for a key; null when the owner is unreachable even after a retry (or was just now).</summary>
    public async Task<LookupResult?> LookUpAsync(ICacheEntryGrain owner, string cacheKey, bool wantFill, string? hotNode)
    {
        // The owner is this node and vouches for a whole head: read it here, no call (a hot copy registers with the grain).
        if (hotNode is null && await published.TryLookUpAsync(cacheKey) is { } here) return here;
        // The owner's node is worked out only while some node is held, or once a call failed: not on every look-up.
        SiloAddress OwnerNode() => ranking.OwnersNow(CacheKeyHash.ToGrainKey(cacheKey)).Owner;
        var node = unresponsive.IsEmpty ? null : OwnerNode();
        if (node is not null && !node.Equals(local.SiloAddress) && unresponsive.ShouldSkip(node))
        {
            logger.LogDebug("Owner of {Key} ({Node}) did not answer lately; bypassing the cache", cacheKey, node);
            return null;
        }
        // Tracing on only (otherwise null, nothing created): the call to the entry's owner, on whichever node it is.
        using var span = NodeTracing.On ? NodeTracing.Source.StartActivity("owner lookup", ActivityKind.Client) : null;
        try
        {
            var found = await OwnerCalls.RetryOnceAsync(() => owner.LookupAsync(cacheKey, wantFill, hotNode), logger, "Lookup");
            if (node is not null) unresponsive.Answered(node);
            span?.SetTag("cachecluster.owner", found?.Owner);
            span?.SetTag("cachecluster.found", found?.Head is not null);
            return found;
        }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex))
        {
            if (ex is not StoreUnavailableException) unresponsive.Failed(node ?? OwnerNode());
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            // A failing store was logged once, with its cause, by the store itself.
            if (ex is StoreUnavailableException) logger.LogDebug("Owner of {Key}: {Error}; bypassing the cache", cacheKey, ex.Message);
            else logger.LogWarning("Owner of {Key} unreachable ({Error}); bypassing the cache", cacheKey, ex.Message);
            return null;
        }
    }

    /// <summary>A fill role over a stale entry; null when the owner is unreachable.</summary>
    public static async Task<FillRole?> BeginFillAsync(ICacheEntryGrain owner, string cacheKey, long replacesStoredAtUnixMs)
    {
        try { return await owner.BeginFillAsync(cacheKey, replacesStoredAtUnixMs); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return null; }
    }
}
