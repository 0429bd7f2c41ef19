using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace CacheCluster.Contracts;

/// <summary>The 128-bit hash of a cache key, used as the owner grain's key and the store's record key.</summary>
public static class CacheKeyHash
{
    public static Guid ToGrainKey(string cacheKey)
    {
        int max = Encoding.UTF8.GetMaxByteCount(cacheKey.Length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 1024 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        int n = Encoding.UTF8.GetBytes(cacheKey, buffer);
        var hash = XxHash128.HashToUInt128(buffer[..n]);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return ToGuid(hash);
    }

    public static Guid ToGuid(UInt128 hash)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, hash);
        return new Guid(bytes);
    }

    public static UInt128 FromGuid(Guid key)
    {
        Span<byte> bytes = stackalloc byte[16];
        key.TryWriteBytes(bytes);
        return BinaryPrimitives.ReadUInt128LittleEndian(bytes);
    }
}
