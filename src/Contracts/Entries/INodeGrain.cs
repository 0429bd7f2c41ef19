using Orleans.Concurrency;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// One per node (keyed by its silo address): reaches that node's local store and hot copies directly. Used
/// to hand an entry over to its new owner when ownership moves (scale-out, a node coming back), and by
/// owners to drop the hot copies other nodes hold.
/// </summary>
public interface INodeGrain : IGrainWithStringKey
{
    Task<Immutable<byte[]?>> ReadHeaderAsync(Guid key);
    Task<Immutable<byte[]?>> ReadChunkAsync(Guid key, long generation, int index);
    /// <summary>Deletes the local header record: the entry now lives elsewhere.</summary>
    Task ForgetAsync(Guid key);

    /// <summary>Drops this node's hot copy of a URL (the owner replaced or invalidated it).</summary>
    [OneWay]
    Task DropHotAsync(string cacheKey);

    /// <summary>The same, answered once done: an invalidation waits for it before its client hears back.</summary>
    Task DropHotConfirmedAsync(string cacheKey);
}
