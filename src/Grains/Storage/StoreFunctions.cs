using System.Buffers.Binary;
using System.IO.Hashing;
using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>Result of one read, filled by <see cref="StoreFunctions"/> inside FASTER's reader callbacks.</summary>
internal readonly struct ReadOutput
{
    public readonly byte[]? Data;
    public readonly bool Corrupt;

    private ReadOutput(byte[]? data, bool corrupt)
    {
        Data = data;
        Corrupt = corrupt;
    }

    public static ReadOutput Ok(byte[] data) => new(data, false);

    public static readonly ReadOutput Bad = new(null, true);
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
/// in the log never changes under a concurrent reader.
/// </summary>
internal sealed class StoreFunctions : SpanByteFunctions<SpanByte, ReadOutput, Empty>
{
    private readonly Action _onCorrupt;

    public StoreFunctions(Action onCorrupt) => _onCorrupt = onCorrupt;

    public override bool SingleReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo)
        => Copy(ref key, ref value, ref dst);

    public override bool ConcurrentReader(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref ReadOutput dst, ref ReadInfo readInfo)
        => Copy(ref key, ref value, ref dst);

    public override bool ConcurrentWriter(ref SpanByte key, ref SpanByte input, ref SpanByte src, ref SpanByte dst, ref ReadOutput output, ref UpsertInfo upsertInfo)
        => false;

    private bool Copy(ref SpanByte key, ref SpanByte value, ref ReadOutput dst)
    {
        var stored = value.AsReadOnlySpan();
        if (stored.Length < RecordFormat.ChecksumBytes || stored.Length > EntryStore.MaxChunkBytes + RecordFormat.ChecksumBytes)
        {
            dst = ReadOutput.Bad;
            _onCorrupt();
            return true;
        }

        var payload = stored[RecordFormat.ChecksumBytes..];
        var copy = payload.Length == 0 ? [] : GC.AllocateUninitializedArray<byte>(payload.Length);
        payload.CopyTo(copy);
        if (RecordFormat.Checksum(key.AsReadOnlySpan(), copy) != BinaryPrimitives.ReadUInt64LittleEndian(stored))
        {
            dst = ReadOutput.Bad;
            _onCorrupt();
            return true;
        }

        dst = ReadOutput.Ok(copy);
        return true;
    }
}
