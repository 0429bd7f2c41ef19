using CacheCluster.Contracts.Entries;
using Orleans.Concurrency;

namespace CacheCluster.Node.Cache;

/// <summary>
/// Feeds a response body to the owner grain in fixed-size chunks while it streams to the client.
/// Each chunk is a fresh array handed over as immutable (Orleans does not copy it); the owner commits
/// the entry only when <see cref="CommitAsync"/> is called after the body was read to its end.
/// </summary>
public sealed class EntryFill(ICacheEntryGrain owner, FillLease lease, long maxBytes)
{
    private byte[] _buffer = new byte[lease.ChunkBytes];
    private int _filled;
    private int _index;
    private long _total;

    public bool Active { get; private set; } = true;
    public long Total => _total;

    /// <summary>Adds body bytes; returns false (and aborts the fill) once the object exceeds the size limit.</summary>
    public async ValueTask<bool> AddAsync(ReadOnlyMemory<byte> data)
    {
        if (!Active) return false;
        _total += data.Length;
        if (_total > maxBytes)
        {
            await AbortAsync();
            return false;
        }
        while (data.Length > 0)
        {
            int n = Math.Min(data.Length, _buffer.Length - _filled);
            data.Span[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            data = data[n..];
            if (_filled == _buffer.Length) await FlushAsync();
        }
        return true;
    }

    private async Task FlushAsync()
    {
        if (_filled == 0) return;
        var chunk = _filled == _buffer.Length ? _buffer : _buffer.AsSpan(0, _filled).ToArray();
        _buffer = _filled == _buffer.Length ? new byte[lease.ChunkBytes] : _buffer;
        _filled = 0;
        await owner.AppendChunkAsync(lease.FillId, _index++, new Immutable<byte[]>(chunk));
    }

    public async Task<bool> CommitAsync(EntryHead head)
    {
        if (!Active) return false;
        await FlushAsync();
        Active = false;
        return await owner.CommitFillAsync(lease.FillId, head with { BodyLength = _total });
    }

    public async Task AbortAsync()
    {
        if (!Active) return;
        Active = false;
        try { await owner.AbortFillAsync(lease.FillId); }
        catch (Exception) { /* the lease expires on its own */ }
    }
}
