using System.Buffers.Binary;
using System.IO.Hashing;
using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>Result of one read, filled by <see cref="StoreFunctions"/> inside FASTER's reader callbacks.</summary>
internal readonly struct ReadOutput
{
    /// <summary>The verified payload; null when the record failed its checksum.</summary>
    public readonly byte[]? Data;

    /// <summary>Log address of the record that was read (ReadAsyncResult's metadata is not reliable for
    /// reads that went to disk in FASTER 2.6.5).</summary>
    public readonly long Address;

    /// <summary>Set by the floor-moving RMW when it wrote a new header record.</summary>
    public readonly bool Applied;

    public ReadOutput(byte[]? data, long address, bool applied = false)
    {
        Data = data;
        Address = address;
        Applied = applied;
    }
}

/// <summary>
/// Record layout helpers. A key is 28 bytes: key hash (16, little endian) + generation (8) + chunk index (4).
/// A value is an 8-byte XxHash3 checksum followed by the payload. The checksum is seeded with a hash of the
/// key, so a record is only accepted for the exact key it was written under.
/// </summary>
internal static class RecordFormat
{
    public const int KeyBytes = 28;
    public const int ChecksumBytes = 8;

    public static void WriteKey(Span<byte> destination, UInt128 keyHash, long generation, int index)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination, (ulong)keyHash);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], (ulong)(keyHash >> 64));
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], generation);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], index);
    }

    public static ulong Checksum(ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload) =>
        XxHash3.HashToUInt64(payload, unchecked((long)XxHash3.HashToUInt64(key)));
}

/// <summary>
/// FASTER callbacks. Readers copy the payload once, straight from the log (memory page or I/O buffer) into an
/// exact-size array and verify the checksum on that copy, so the bytes that were checked are the bytes returned.
/// Upserts never overwrite a value in place (ConcurrentWriter refuses, so FASTER appends a new record): a value
/// in the log never changes under a concurrent reader. RMW is used only when an entry is copied forward whole:
/// it rewrites the header record at the tail with the entry's new floor, and only if the current header is still
/// of the generation that was copied (input: expected generation, new floor); it never creates a record.
/// </summary>
internal sealed class StoreFunctions : SpanByteFunctions<SpanByte, ReadOutput, Empty>
{
    private readonly Action _onCorrupt;

    public StoreFunctions(Action onCorrupt) => _onCorrupt = onCorrupt;

    public override bool SingleReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo)
        => Copy(ref key, ref value, ref dst, readInfo.Address);

    public override bool ConcurrentReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo)
        => Copy(ref key, ref value, ref dst, readInfo.Address);

    public override bool ConcurrentWriter(ref SpanByte key, ref SpanByte input, ref SpanByte src, ref SpanByte dst, ref ReadOutput output, ref UpsertInfo upsertInfo)
        => false;

    public override bool NeedInitialUpdate(ref SpanByte key, ref SpanByte input, ref ReadOutput output, ref RMWInfo rmwInfo)
        => false;

    public override bool InitialUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput output, ref RMWInfo rmwInfo)
        => false;

    // Never in place (a concurrent reader could see a torn record): false sends a matching header to CopyUpdater.
    public override bool InPlaceUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput output, ref RMWInfo rmwInfo)
        => !Matches(ref key, ref input, ref value);

    public override bool NeedCopyUpdate(ref SpanByte key, ref SpanByte input, ref SpanByte oldValue, ref ReadOutput output, ref RMWInfo rmwInfo)
        => Matches(ref key, ref input, ref oldValue);

    public override bool CopyUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte oldValue, ref SpanByte newValue, ref ReadOutput output, ref RMWInfo rmwInfo)
    {
        oldValue.CopyTo(ref newValue);
        var stored = newValue.AsSpan();
        var payload = stored[RecordFormat.ChecksumBytes..];
        HeaderRecord.SetFloor(payload, BinaryPrimitives.ReadInt64LittleEndian(input.AsReadOnlySpan()[8..]));
        BinaryPrimitives.WriteUInt64LittleEndian(stored, RecordFormat.Checksum(key.AsReadOnlySpan(), payload));
        output = new ReadOutput(null, rmwInfo.Address, applied: true);
        return true;
    }

    /// <summary>The record is an intact header of the generation the RMW input names.</summary>
    private static bool Matches(ref SpanByte key, ref SpanByte input, ref SpanByte value)
    {
        var stored = value.AsReadOnlySpan();
        if (input.Length != 16 || stored.Length < RecordFormat.ChecksumBytes + HeaderRecord.PrefixBytes)
            return false;
        var payload = stored[RecordFormat.ChecksumBytes..];
        if (RecordFormat.Checksum(key.AsReadOnlySpan(), payload) != BinaryPrimitives.ReadUInt64LittleEndian(stored))
            return false;
        return HeaderRecord.TryDecode(payload, out var extent)
            && extent.Generation == BinaryPrimitives.ReadInt64LittleEndian(input.AsReadOnlySpan());
    }

    private bool Copy(ref SpanByte key, ref SpanByte value, ref ReadOutput dst, long address)
    {
        var stored = value.AsReadOnlySpan();
        if (stored.Length < RecordFormat.ChecksumBytes || stored.Length > EntryStore.MaxChunkBytes + RecordFormat.ChecksumBytes)
        {
            dst = new ReadOutput(null, address);
            _onCorrupt();
            return true;
        }

        var payload = stored[RecordFormat.ChecksumBytes..];
        var copy = payload.Length == 0 ? [] : GC.AllocateUninitializedArray<byte>(payload.Length);
        payload.CopyTo(copy);
        if (RecordFormat.Checksum(key.AsReadOnlySpan(), copy) != BinaryPrimitives.ReadUInt64LittleEndian(stored))
        {
            dst = new ReadOutput(null, address);
            _onCorrupt();
            return true;
        }

        dst = new ReadOutput(copy, address);
        return true;
    }
}

/// <summary>RMW record sizing for the floor-moving RMW: the new value is exactly as long as the old one.</summary>
internal sealed class CopyForwardLength : IVariableLengthStruct<SpanByte, SpanByte>
{
    public int GetLength(ref SpanByte t, ref SpanByte input) => t.TotalSize;

    public int GetInitialLength(ref SpanByte input) => sizeof(int);
}
