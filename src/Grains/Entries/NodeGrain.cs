using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;
using Orleans.Concurrency;

namespace CacheCluster.Grains.Entries;

/// <summary>This node's store and hot copies, reachable from other nodes (handoff, hot-copy invalidation).</summary>
[Reentrant]
[NodeBoundPlacement]
public sealed class NodeGrain(EntryStore store, HotEntries hot) : Grain, INodeGrain
{
    public async Task<Immutable<byte[]?>> ReadHeaderAsync(Guid key) =>
        new(await store.ReadHeaderAsync(CacheKeyHash.FromGuid(key)));

    public async Task<Immutable<byte[]?>> ReadChunkAsync(Guid key, long generation, int index) =>
        new(await store.ReadChunkAsync(CacheKeyHash.FromGuid(key), generation, index));

    public async Task ForgetAsync(Guid key) => await store.DeleteHeaderAsync(CacheKeyHash.FromGuid(key));

    public Task DropHotAsync(string cacheKey)
    {
        hot.Drop(cacheKey);
        return Task.CompletedTask;
    }

    public Task DropHotConfirmedAsync(string cacheKey) => DropHotAsync(cacheKey);
}
