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
/// Chunks go to the owner one after another (in order) but ahead of the client's copy: the client waits for the
/// store only once <see cref="MaxChunksAhead"/> chunks are still on their way (a store held by a checkpoint).
/// </summary>
public sealed class FillLeader(ICacheEntryGrain owner, FillRole role, long maxBytes)
{
    /// <summary>Chunks (64 KiB each) handed to the owner that it has not acknowledged yet, at most.</summary>
    public const int MaxChunksAhead = 16;

    private byte[] _buffer = [];      // the chunk being filled; allocated on first use (NextBufferAt)
    private long _expected = -1;      // the body's declared length, when the origin gave one
    private int _filled;
    private int _index;
    private long _total;
    private Task _appended = Task.CompletedTask; // the last append handed over; each waits for the one before
    private Queue<Task>? _ahead;                  // appends not yet acknowledged, oldest first

    private bool _ended;          // the storing stopped: owner said no, a call failed, aborted, or a terminal call made
    private Task<bool>? _commit;  // the commit, once asked for (asking twice gets the same one)

    /// <summary>Still storing: chunks and a commit are welcome.</summary>
    public bool Active => !_ended && _commit is null;

    /// <summary>Tells followers what the origin said. Anything but Stream ends the fill.</summary>
    public async Task PublishAsync(FillOutcome outcome)
    {
        if (!Active) return;
        if (outcome.Kind != FillOutcomeKind.Stream) _ended = true;
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
            if (await call != FillAck.Accepted) _ended = true; // the fill ended meanwhile (aborted, stalled, replaced)
        }
        // InvalidOperationException: a chunk out of order, a bug on this side; stop storing rather than fail the client.
        catch (Exception ex) when (OwnerCalls.IsTransient(ex) || ex is InvalidOperationException)
        {
            _ended = true;
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

    /// <summary>The body's declared length: chunks are then allocated to the size they will have (most bodies are
    /// far smaller than a chunk; a full-size, zeroed chunk per miss was most of the fill path's allocation).</summary>
    public void ExpectLength(long? length) => _expected = length ?? -1;

    /// <summary>A fresh chunk array (uninitialized: every byte handed over is written first): the declared rest of the body
    /// when that is under a chunk, else a whole chunk.</summary>
    private byte[] NextBufferAt(long position)
    {
        long rest = _expected >= 0 ? _expected - position : long.MaxValue;
        return GC.AllocateUninitializedArray<byte>((int)Math.Clamp(rest, 1, role.ChunkBytes));
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
        long before = _total - data.Length;
        while (data.Length > 0)
        {
            if (_filled == _buffer.Length)
            {
                // No buffer yet, or a short one (sized to the declared length) that more bytes arrived for: a whole chunk.
                var grown = _filled == 0 ? NextBufferAt(before) : GC.AllocateUninitializedArray<byte>(role.ChunkBytes);
                _buffer.AsSpan(0, _filled).CopyTo(grown);
                _buffer = grown;
            }
            int n = Math.Min(data.Length, _buffer.Length - _filled);
            data.Span[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            before += n;
            data = data[n..];
            if (_filled == role.ChunkBytes) await HandOverAsync();
        }
        return Active;
    }

    /// <summary>Hands the full buffer to the owner behind the appends already on their way; waits only when too many are.</summary>
    private async ValueTask HandOverAsync()
    {
        var chunk = _buffer;
        _filled = 0;
        _buffer = []; // the handed-over array now belongs to the owner; never written again (AddAsync takes a fresh one)
        _ahead ??= new Queue<Task>();
        while (_ahead.Count >= MaxChunksAhead) await _ahead.Dequeue();
        _appended = AppendAfterAsync(_appended, _index++, chunk);
        _ahead.Enqueue(_appended);
    }

    private async Task AppendAfterAsync(Task previous, int index, byte[] chunk)
    {
        await previous;
        if (_ended) return; // an append before this one ended the fill
        await Guard(owner.AppendChunkAsync(role.FillId, index, new Immutable<byte[]>(chunk)));
    }

    /// <summary>Waits for the appends on their way (their failures end the fill, see <see cref="Guard"/>).</summary>
    private async Task DrainAsync()
    {
        if (_ahead is null) return;
        while (_ahead.Count > 0) await _ahead.Dequeue();
    }

    /// <summary>
    /// Commits the fill: the appends on their way, then the last chunk with the commit in one call (the owner makes
    /// lookups that arrive meanwhile wait for the entry, so the commit message only has to be sent before the client's
    /// last byte, not acknowledged).
    /// </summary>
    public Task<bool> CommitAsync()
    {
        if (_commit is not null) return _commit;
        if (_ended) return Task.FromResult(false);
        return _commit = CommitCoreAsync();
    }

    private async Task<bool> CommitCoreAsync()
    {
        await DrainAsync();
        if (_ended) return false;
        var last = _filled == 0 ? [] : _filled == _buffer.Length ? _buffer : _buffer.AsSpan(0, _filled).ToArray();
        _buffer = [];
        _filled = 0;
        _ended = true;
        try { return await owner.CommitFillAsync(role.FillId, _total, new Immutable<byte[]>(last)) == FillAck.Accepted; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex) || ex is InvalidOperationException) { await EndAfterFailureAsync(ex); return false; }
    }

    /// <summary>Ends a revalidation answered with 304: the owner refreshes the stored entry's head.</summary>
    public async Task<bool> RefreshAsync(EntryHead refreshed)
    {
        if (!Active) return false;
        _ended = true;
        try { return await owner.RefreshFillAsync(role.FillId, refreshed) == FillAck.Accepted; }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { await EndAfterFailureAsync(ex); return false; }
    }

    /// <summary>Ends the URL's fill with its Vary marker: followers look up again and follow their variant.</summary>
    public async Task<bool> CommitVaryAsync(EntryHead marker)
    {
        if (!Active) return false;
        _ended = true;
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
        _ended = true; // appends still on their way stop at the next one; the owner ignores them once the fill ended
        if (_ahead is { Count: > 0 }) _ = DrainAsync().ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        await EndFillAsync();
    }

    private async Task EndFillAsync()
    {
        try { await owner.AbortFillAsync(role.FillId); }
        catch (Exception) { /* the owner presumes a silent fill dead after a while */ }
    }
}
