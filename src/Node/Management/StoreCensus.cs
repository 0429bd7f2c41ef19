using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Entries;
using CacheCluster.Grains.Storage;

namespace CacheCluster.Node.Management;

/// <summary>
/// Walks this node's store for the management plane: the entries (live header records) it holds, decoded.
/// A walk reads the whole log, so the entry count for status and metrics is cached for a while.
/// </summary>
public sealed class StoreCensus(EntryStore store)
{
    private static readonly TimeSpan CountMaxAge = TimeSpan.FromSeconds(15);
    private readonly SemaphoreSlim _walk = new(1, 1);
    private (long Entries, long BodyBytes, DateTime At) _count;

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
            _count = (result.Count, result.Sum(e => e.Item2.BodyLength), DateTime.UtcNow);
            return result;
        }
        finally { _walk.Release(); }
    }

    /// <summary>Entries and their body bytes, at most <see cref="CountMaxAge"/> old.</summary>
    public async Task<(long Entries, long BodyBytes)> CountAsync()
    {
        var c = _count;
        if (DateTime.UtcNow - c.At < CountMaxAge) return (c.Entries, c.BodyBytes);
        if (!store.IsOpen) return (0, 0);
        await EntriesAsync();
        return (_count.Entries, _count.BodyBytes);
    }

    /// <summary>The last count without walking (metrics scrapes must stay cheap); refreshed in the background when old.</summary>
    public (long Entries, long BodyBytes) LastCount()
    {
        var c = _count;
        if (DateTime.UtcNow - c.At >= CountMaxAge && store.IsOpen && _walk.CurrentCount > 0)
            _ = Task.Run(async () => { try { await EntriesAsync(); } catch (Exception) { /* next scrape retries */ } });
        return (c.Entries, c.BodyBytes);
    }
}
