using System.Buffers.Binary;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// A header record's payload: a 32-byte prefix the store owns (where the entry's records are, see
/// <see cref="EntryExtent"/>), then the caller's header bytes. Layout, little endian:
/// magic "EHD2" (4) · floor (8) · generation (8) · chunk count (4) · body bytes (8) · header.
/// A record without the magic (written by an older version) reads as missing.
/// </summary>
internal static class HeaderRecord
{
    public const int PrefixBytes = 32;
    private const uint Magic = 0x3244_4845; // "EHD2"
    private const int FloorOffset = 4;

    public static byte[] Encode(EntryExtent extent, ReadOnlySpan<byte> header)
    {
        var payload = GC.AllocateUninitializedArray<byte>(PrefixBytes + header.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(payload, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(FloorOffset), extent.Floor);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(12), extent.Generation);
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(20), extent.Chunks);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(24), extent.BodyBytes);
        header.CopyTo(payload.AsSpan(PrefixBytes));
        return payload;
    }

    public static bool TryDecode(ReadOnlySpan<byte> payload, out EntryExtent extent)
    {
        if (payload.Length < PrefixBytes || BinaryPrimitives.ReadUInt32LittleEndian(payload) != Magic)
        {
            extent = default;
            return false;
        }

        extent = new EntryExtent(
            BinaryPrimitives.ReadInt64LittleEndian(payload[12..]),
            BinaryPrimitives.ReadInt32LittleEndian(payload[20..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[24..]),
            BinaryPrimitives.ReadInt64LittleEndian(payload[FloorOffset..]));
        return true;
    }

    /// <summary>Moves the floor of a record's payload in place (the copy-forward RMW, on a fresh copy).</summary>
    public static void SetFloor(Span<byte> payload, long floor) => BinaryPrimitives.WriteInt64LittleEndian(payload[FloorOffset..], floor);
}
