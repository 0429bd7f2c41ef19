using System.Text;
using CacheCluster.Contracts.Entries;

namespace CacheCluster.Grains.Entries;

/// <summary>
/// The header record's byte layout in the store. Versioned so a future layout can read old records;
/// anything it cannot read is treated as a miss, never served.
/// </summary>
public static class EntryHeadCodec
{
    private const byte Version = 2; // 2 added the RFC 5861 windows; version 1 records still read

    public static byte[] Encode(EntryHead head)
    {
        using var ms = new MemoryStream(256 + head.Headers.Length * 32);
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Version);
            w.Write(head.CacheKey);
            w.Write(head.Status);
            w.Write(head.ReasonPhrase ?? string.Empty);
            w.Write(head.Headers.Length);
            foreach (var h in head.Headers) w.Write(h);
            w.Write(head.RequestTimeUnixMs);
            w.Write(head.ResponseTimeUnixMs);
            w.Write(head.LifetimeMs);
            w.Write(head.InitialAgeMs);
            w.Write((int)head.Flags);
            w.Write(head.BodyLength);
            w.Write(head.ChunkCount);
            w.Write(head.Generation);
            w.Write(head.StoredAtUnixMs);
            w.Write(head.StaleWhileRevalidateMs);
            w.Write(head.StaleIfErrorMs);
        }
        return ms.ToArray();
    }

    public static EntryHead? TryDecode(byte[] bytes)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
            var version = r.ReadByte();
            if (version is not (1 or 2)) return null;
            var key = r.ReadString();
            var status = r.ReadInt32();
            var reason = r.ReadString();
            var n = r.ReadInt32();
            if (n < 0 || n % 2 != 0 || n > bytes.Length) return null;
            var headers = new string[n];
            for (int i = 0; i < n; i++) headers[i] = r.ReadString();
            var head = new EntryHead
            {
                CacheKey = key,
                Status = status,
                ReasonPhrase = reason.Length == 0 ? null : reason,
                Headers = headers,
                RequestTimeUnixMs = r.ReadInt64(),
                ResponseTimeUnixMs = r.ReadInt64(),
                LifetimeMs = r.ReadInt64(),
                InitialAgeMs = r.ReadInt64(),
                Flags = (EntryFlags)r.ReadInt32(),
                BodyLength = r.ReadInt64(),
                ChunkCount = r.ReadInt32(),
                Generation = r.ReadInt64(),
                StoredAtUnixMs = r.ReadInt64(),
            };
            return version == 1 ? head : head with { StaleWhileRevalidateMs = r.ReadInt64(), StaleIfErrorMs = r.ReadInt64() };
        }
        catch (EndOfStreamException) { return null; }
        catch (FormatException) { return null; }
    }
}
