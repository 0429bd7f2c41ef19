using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>Reads: admitted like writes (so a checkpoint sees them in flight), completed in memory or from disk.</summary>
public sealed partial class EntryStore
{
    // Reads append nothing (whole entries are copied forward by the reinserter), so they reserve only a token
    // amount: enough for a checkpoint's drain to see them in flight.
    private const long ReadReservation = 8;

    private ValueTask<byte[]?> ReadCore(UInt128 keyHash, long generation, int index)
    {
        if (!TryAdmitRead())
            return ReadAfterWaitAsync(keyHash, generation, index);
        return ReadAdmitted(keyHash, generation, index);
    }

    private async ValueTask<byte[]?> ReadAfterWaitAsync(UInt128 keyHash, long generation, int index)
    {
        await WaitForRoomAsync(ReadReservation).ConfigureAwait(false);
        return await ReadAdmitted(keyHash, generation, index).ConfigureAwait(false);
    }

    private ValueTask<byte[]?> ReadAdmitted(UInt128 keyHash, long generation, int index)
    {
        StoreSession? session = null;
        bool handedOff = false;
        try
        {
            session = RentSession();
            session.SetKey(keyHash, generation, index);
            var pending = session.Session.ReadAsync(ref session.Key, ref session.Input);
            if (!pending.IsCompletedSuccessfully)
            {
                handedOff = true;
                return ReadPendingAsync(pending, session);
            }

            var (status, output) = pending.Result.Complete();
            return new ValueTask<byte[]?>(Finish(status, output));
        }
        catch (Exception ex) when (ex is not ObjectDisposedException && Volatile.Read(ref _state) == StateOpen)
        {
            OnReadError(ex);
            session?.Dispose();
            session = null;
            return new ValueTask<byte[]?>((byte[]?)null);
        }
        finally
        {
            if (!handedOff)
            {
                if (session is not null)
                    ReturnSession(session);
                Interlocked.Add(ref _reserved, -ReadReservation);
            }
        }
    }

    private async ValueTask<byte[]?> ReadPendingAsync(
        ValueTask<FasterKV<SpanByte, SpanByte>.ReadAsyncResult<SpanByte, ReadOutput, Empty>> pending, StoreSession session)
    {
        bool healthy = false;
        try
        {
            var result = await pending.ConfigureAwait(false);
            var (status, output) = result.Complete();
            healthy = true;
            return Finish(status, output);
        }
        catch (Exception ex) when (ex is not ObjectDisposedException && Volatile.Read(ref _state) == StateOpen)
        {
            OnReadError(ex);
            return null;
        }
        finally
        {
            if (healthy)
                ReturnSession(session);
            else
                session.Dispose();
            Interlocked.Add(ref _reserved, -ReadReservation);
        }
    }

    private static byte[]? Finish(Status status, ReadOutput output) => status.Found ? output.Data : null;
}
