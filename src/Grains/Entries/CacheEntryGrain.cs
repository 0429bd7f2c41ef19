using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace CacheCluster.Grains.Entries;

/// <summary>
/// Owns one URL's entry. The head is kept in the activation after the first lookup; body chunks are read
/// from the node's FASTER store on demand. A fill writes chunks first and the header record last, so a
/// crash or abort mid-body leaves only unreachable chunks, never a servable partial entry.
/// </summary>
[Reentrant]
[CollectionAgeLimit(Minutes = 10)]
public sealed class CacheEntryGrain(EntryStore store, ILogger<CacheEntryGrain> logger) : Grain, ICacheEntryGrain
{
    /// <summary>Bodies up to this size stay in the activation: small hot objects then cost no store read.</summary>
    private const int InlineBodyLimit = 8 * 1024;

    /// <summary>A fill with no progress for this long is presumed dead (its node crashed or hung).</summary>
    private static readonly TimeSpan FillStallLimit = TimeSpan.FromSeconds(60);

    private UInt128 _keyHash;
    private bool _loaded;
    private EntryHead? _head;
    private byte[]? _inlineBody;
    private Fill? _fill;

    private sealed class Fill
    {
        public required long Id;
        public required long Generation;
        public required string CacheKey;
        public int NextIndex;
        public long Bytes;
        public byte[]? FirstChunk;
        public DateTime LastActivityUtc;
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _keyHash = CacheKeyHash.FromGuid(this.GetPrimaryKey());
        return Task.CompletedTask;
    }

    public async Task<LookupResult> LookupAsync(string cacheKey)
    {
        if (!_loaded) await LoadAsync();
        var head = _head;
        if (head is null || !string.Equals(head.CacheKey, cacheKey, StringComparison.Ordinal)) return LookupResult.Miss;
        if (head.BodyLength == 0) return new LookupResult(head, null);
        var first = _inlineBody ?? await store.ReadChunkAsync(_keyHash, head.Generation, 0);
        if (first is null)
        {
            // Evicted or failed its checksum: forget it so the next request refetches.
            await DropAsync(head, "first chunk missing");
            return LookupResult.Miss;
        }
        return new LookupResult(head, first);
    }

    public async Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index)
    {
        var bytes = await store.ReadChunkAsync(_keyHash, generation, index);
        if (bytes is null && _head is { } head && head.Generation == generation)
            await DropAsync(head, $"chunk {index} missing");
        return new Immutable<byte[]?>(bytes);
    }

    public Task<FillLease?> BeginFillAsync(string cacheKey)
    {
        var now = DateTime.UtcNow;
        if (_fill is { } running && now - running.LastActivityUtc < FillStallLimit)
            return Task.FromResult<FillLease?>(null);
        _fill = new Fill
        {
            Id = Random.Shared.NextInt64(1, long.MaxValue),
            Generation = store.NewGeneration(),
            CacheKey = cacheKey,
            LastActivityUtc = now,
        };
        return Task.FromResult<FillLease?>(new FillLease(_fill.Id, EntryStore.MaxChunkBytes));
    }

    public async Task AppendChunkAsync(long fillId, int index, Immutable<byte[]> data)
    {
        var fill = _fill;
        if (fill is null || fill.Id != fillId) throw new InvalidOperationException("The fill is no longer current (it was aborted, expired or replaced).");
        if (index != fill.NextIndex) throw new InvalidOperationException($"Chunk {index} arrived out of order; expected {fill.NextIndex}.");
        var bytes = data.Value;
        if (bytes.Length == 0 || bytes.Length > EntryStore.MaxChunkBytes) throw new ArgumentException($"Chunk size {bytes.Length} is outside 1..{EntryStore.MaxChunkBytes}.");
        fill.NextIndex++;
        fill.Bytes += bytes.Length;
        fill.LastActivityUtc = DateTime.UtcNow;
        if (index == 0) fill.FirstChunk = bytes;
        await store.WriteChunkAsync(_keyHash, fill.Generation, index, bytes);
    }

    public async Task<bool> CommitFillAsync(long fillId, EntryHead head)
    {
        var fill = _fill;
        if (fill is null || fill.Id != fillId) return false;
        _fill = null;
        if (fill.Bytes != head.BodyLength || !string.Equals(fill.CacheKey, head.CacheKey, StringComparison.Ordinal))
        {
            logger.LogWarning("Refused to commit {Key}: received {Received} body bytes but the response declared {Declared}",
                head.CacheKey, fill.Bytes, head.BodyLength);
            return false;
        }
        var committed = head with
        {
            Generation = fill.Generation,
            ChunkCount = fill.NextIndex,
            StoredAtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        await store.WriteHeaderAsync(_keyHash, EntryHeadCodec.Encode(committed));
        _head = committed;
        _loaded = true;
        _inlineBody = committed.ChunkCount == 1 && committed.BodyLength <= InlineBodyLimit ? fill.FirstChunk : null;
        return true;
    }

    public Task AbortFillAsync(long fillId)
    {
        if (_fill is { } fill && fill.Id == fillId) _fill = null;
        return Task.CompletedTask;
    }

    public async Task<bool> InvalidateAsync()
    {
        if (!_loaded) await LoadAsync();
        if (_head is null) return false;
        await DropAsync(_head, "invalidated");
        return true;
    }

    private async Task LoadAsync()
    {
        var bytes = await store.ReadHeaderAsync(_keyHash);
        var head = bytes is null ? null : EntryHeadCodec.TryDecode(bytes);
        if (bytes is not null && head is null)
            logger.LogWarning("Unreadable header record for key hash {Hash}; treating as a miss", _keyHash);
        _head = head;
        _inlineBody = null;
        if (head is { ChunkCount: 1, BodyLength: > 0 and <= InlineBodyLimit })
            _inlineBody = await store.ReadChunkAsync(_keyHash, head.Generation, 0);
        _loaded = true;
    }

    private async Task DropAsync(EntryHead head, string why)
    {
        if (!ReferenceEquals(_head, head)) return;
        _head = null;
        _inlineBody = null;
        await store.DeleteHeaderAsync(_keyHash);
        logger.LogDebug("Dropped {Key}: {Why}", head.CacheKey, why);
    }
}
