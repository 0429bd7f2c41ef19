using System.Buffers;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Storage;
using Orleans.Concurrency;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// The leader of a fill: the request the owner chose to fetch for everyone asking meanwhile, on any node.
/// Publishes the origin's answer to followers, feeds the body to the owner grain in fixed-size chunks while it
/// streams to the client, and commits once the body was read to its end.
/// Each chunk is a fresh array handed over as immutable (Orleans does not copy it). Any answer but
/// <see cref="FillAck.Accepted"/> (the fill ended meanwhile) stops the storing; the client's response goes on.
/// </summary>
public sealed class FillLeader(ICacheEntryGrain owner, FillRole role, long maxBytes)
{
    private byte[] _buffer = new byte[role.ChunkBytes];
    private int _filled;
    private int _index;
    private long _total;

    public bool Active { get; private set; } = true;

    /// <summary>Tells followers what the origin said. Anything but Stream ends the fill.</summary>
    public async Task PublishAsync(FillOutcome outcome)
    {
        if (!Active) return;
        if (outcome.Kind != FillOutcomeKind.Stream) Active = false;
        await Guard(owner.PublishAsync(role.FillId, outcome));
    }

    /// <summary>
    /// The owner may become unreachable mid-fill (its node died): the client's response goes on, only the
    /// storing stops. Followers on other nodes are cut off by their own calls failing.
    /// </summary>
    private async Task Guard(Task<FillAck> call)
    {
        try
        {
            if (await call != FillAck.Accepted) Active = false; // the fill ended meanwhile (aborted, stalled, replaced)
        }
        // InvalidOperationException: a chunk out of order, a bug on this side; stop storing rather than fail the client.
        catch (Exception ex) when (OwnerCalls.IsTransient(ex) || ex is InvalidOperationException)
        {
            Active = false;
            await EndAfterFailureAsync(ex);
        }
    }

    /// <summary>
    /// A call to the owner failed and this leader stops feeding the fill, but the owner may still hold it open:
    /// its followers would wait for an outcome or chunks that never come (up to FillLimits.FollowWait / StallLimit,
    /// 20-30 s, longer than many clients wait; seen while the cluster database was down and stalled nodes timed
    /// calls out). End it so they fetch on their own or continue from the origin now. A failing store answers at
    /// once; otherwise the owner just failed to answer in time, so the leader's own client does not wait on it again.
    /// </summary>
    private Task EndAfterFailureAsync(Exception ex)
    {
        if (ex is StoreUnavailableException) return EndFillAsync();
        _ = EndFillAsync();
        return Task.CompletedTask;
    }

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
            if (_filled == _buffer.Length) await FlushAsync(last: false);
        }
        return Active;
    }

    private async Task FlushAsync(bool last)
    {
        if (_filled == 0 || !Active) return;
        var chunk = _filled == _buffer.Length ? _buffer : _buffer.AsSpan(0, _filled).ToArray();
        _filled = 0;
        // The handed-over array now belongs to the owner; never write into it again.
        if (ReferenceEquals(chunk, _buffer)) _buffer = last ? [] : new byte[role.ChunkBytes];
        await Guard(owner.AppendChunkAsync(role.FillId, _index++, new Immutable<byte[]>(chunk)));
    }

    public async Task<bool> CommitAsync()
    {
        if (!Active) return false;
        await FlushAsync(last: true);
        if (!Active) return false;
        Active = false;
        try { return await owner.CommitFillAsync(role.FillId, _total) == FillAck.Accepted; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { await EndAfterFailureAsync(ex); return false; }
    }

    /// <summary>Ends a revalidation answered with 304: the owner refreshes the stored entry's head.</summary>
    public async Task<bool> RefreshAsync(EntryHead refreshed)
    {
        if (!Active) return false;
        Active = false;
        try { return await owner.RefreshFillAsync(role.FillId, refreshed) == FillAck.Accepted; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { await EndAfterFailureAsync(ex); return false; }
    }

    /// <summary>Ends the URL's fill with its Vary marker: followers look up again and follow their variant.</summary>
    public async Task<bool> CommitVaryAsync(EntryHead marker)
    {
        if (!Active) return false;
        Active = false;
        try { return await owner.CommitVaryAsync(role.FillId, marker) == FillAck.Accepted; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { await EndAfterFailureAsync(ex); return false; }
    }

    /// <summary>
    /// Fills from a body no client is waiting for (a background revalidation): appends it to its end, then
    /// commits. Returns false when the object grew too large or the owner refused it.
    /// </summary>
    public async Task<bool> FillFromAsync(Stream body, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, ct)) > 0)
                if (!await AddAsync(buffer.AsMemory(0, n))) return false;
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
        return await CommitAsync();
    }

    public async Task AbortAsync()
    {
        if (!Active) return;
        Active = false;
        await EndFillAsync();
    }

    private async Task EndFillAsync()
    {
        try { await owner.AbortFillAsync(role.FillId); }
        catch (Exception) { /* the owner presumes a silent fill dead after a while */ }
    }
}
