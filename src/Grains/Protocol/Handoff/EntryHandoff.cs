using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Entries;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace CacheCluster.Grains.Protocol.Handoff;

/// <summary>
/// Moving an entry to its new owner after a membership change (a node joined, or came back). The runner-up in the
/// rendezvous ranking is the node that owned the key before: if it holds a newer copy than this node's store, the
/// copy is pulled over chunk by chunk (through that node's <see cref="INodeGrain"/>), then that node is told to
/// forget it so an invalidated entry can never come back from there. Runs when an owner activation starts
/// (<c>CacheEntryGrain.OnActivateAsync</c>), so it happens before the activation's first message, whatever it is.
/// A reader already streaming from the previous owner finishes from there (<see cref="ReadChunkAsync"/>).
/// </summary>
public sealed class EntryHandoff(EntryStore store, OwnerRanking ranking, IGrainFactory grains, SiloAddress self, ILogger logger)
{
    /// <summary>
    /// The head to serve after taking over <paramref name="key"/>: the previous owner's newer copy, now in this
    /// node's store, or null (nothing newer there, no previous owner, or it failed: a miss refetches normally).
    /// Cancelled (between chunks) when the activation takes too long: the caller then retries on first use.
    /// </summary>
    public async Task<EntryHead?> TakeOverAsync(Guid key, UInt128 keyHash, EntryHead? local, CancellationToken ct = default)
    {
        if (ranking.PreviousOwner(key, self) is not { } previous) return null;
        var node = grains.GetGrain<INodeGrain>(previous.ToParsableString());
        try
        {
            var remote = Decode((await node.ReadHeaderAsync(key)).Value, key);
            if (remote is null) return null;
            if (local is not null && local.StoredAtUnixMs >= remote.StoredAtUnixMs)
            {
                await node.ForgetAsync(key);
                return null;
            }
            var generation = store.NewGeneration();
            long floor = store.ChunkFloor;
            for (int i = 0; i < remote.ChunkCount; i++)
            {
                ct.ThrowIfCancellationRequested();
                var chunk = (await node.ReadChunkAsync(key, remote.Generation, i)).Value;
                if (chunk is null) return null; // evicted there meanwhile: a miss here, refetched normally
                await store.WriteChunkAsync(keyHash, generation, i, chunk);
            }
            var taken = remote with { Generation = generation };
            await store.WriteHeaderAsync(keyHash, EntryHeadCodec.Encode(taken), new EntryExtent(generation, taken.ChunkCount, taken.BodyLength, floor));
            await node.ForgetAsync(key);
            logger.LogDebug("Took over {Key} ({Bytes} bytes) from {Previous}", remote.CacheKey, remote.BodyLength, previous);
            return taken;
        }
        catch (Exception ex) when (ex is SiloUnavailableException or TimeoutException or OrleansException)
        {
            logger.LogInformation("Handoff of key {Key} from {Previous} failed ({Message}); it will be refetched", key, previous, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Chunk <paramref name="index"/> of a generation this node never had: a reader that began on the previous
    /// owner (ownership moved mid-body) finishes from that node's store. Null when it is gone there too.
    /// </summary>
    public async Task<byte[]?> ReadChunkAsync(Guid key, long generation, int index)
    {
        if (ranking.PreviousOwner(key, self) is not { } previous) return null;
        try { return (await grains.GetGrain<INodeGrain>(previous.ToParsableString()).ReadChunkAsync(key, generation, index)).Value; }
        catch (Exception ex) when (ex is SiloUnavailableException or TimeoutException or OrleansException) { return null; }
    }

    /// <summary>A header record as a head; an unreadable one is a miss (logged), never served.</summary>
    public EntryHead? Decode(byte[]? bytes, Guid key)
    {
        if (bytes is null) return null;
        var head = EntryHeadCodec.TryDecode(bytes);
        if (head is null) logger.LogWarning("Unreadable header record for key {Key}; treating as a miss", key);
        return head;
    }
}
