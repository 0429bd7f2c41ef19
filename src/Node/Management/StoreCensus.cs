using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Entries;
using CacheCluster.Grains.Storage;

namespace CacheCluster.Node.Management;

/// <summary>
/// This node's store for the management plane: the entries it holds, decoded (a walk reads each header), and
/// their count (from the store's in-memory table of whole entries).
/// </summary>
public sealed class StoreCensus(EntryStore store)
{
    private readonly SemaphoreSlim _walk = new(1, 1);

    /// <summary>Every live entry head in this node's store, with its key hash.</summary>
    public async Task<List<(UInt128 Hash, EntryHead Head)>> EntriesAsync(CancellationToken ct = default)
    {
        await _walk.WaitAsync(ct);
        try
        {
            var keys = await Task.Run(() => store.ScanHeaderKeys(ct), ct);
            var result = new List<(UInt128, EntryHead)>(keys.Count);
            foreach (var hash in keys)
            {
                ct.ThrowIfCancellationRequested();
                if (await store.ReadHeaderAsync(hash) is { } bytes && EntryHeadCodec.TryDecode(bytes) is { } head)
                    result.Add((hash, head));
            }
            return result;
        }
        finally { _walk.Release(); }
    }

    /// <summary>Entries and their body bytes, from the store's own table (exact and cheap).</summary>
    public Task<(long Entries, long BodyBytes)> CountAsync() => Task.FromResult(LastCount());

    /// <summary>Entries and their body bytes now (metrics scrapes must stay cheap: no walk).</summary>
    public (long Entries, long BodyBytes) LastCount()
    {
        if (!store.IsOpen) return (0, 0);
        var stats = store.GetStats();
        return (stats.Entries, stats.BodyBytes);
    }
}
