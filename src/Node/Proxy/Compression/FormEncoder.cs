using System.IO.Compression;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Proxy.Compression;

/// <summary>Compresses a whole identity body, given as store chunks, with gzip or brotli (System.IO.Compression).</summary>
public static class FormEncoder
{
    public static byte[] Encode(IReadOnlyList<byte[]> chunks, long length, string coding, CompressionSettings settings)
    {
        // Text usually shrinks to a fifth or less: start there, the stream grows as needed.
        using var output = new MemoryStream((int)Math.Clamp(length / 4, 256, 1 << 20));
        using (var encoder = Open(output, coding, settings))
        {
            foreach (var chunk in chunks) encoder.Write(chunk);
        }
        return output.ToArray();
    }

    private static Stream Open(Stream output, string coding, CompressionSettings settings) => coding switch
    {
        "br" => new BrotliStream(output, new BrotliCompressionOptions { Quality = settings.BrotliQuality }, leaveOpen: true),
        "gzip" => new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = settings.GzipLevel }, leaveOpen: true),
        _ => throw new ArgumentOutOfRangeException(nameof(coding), coding, "no such coding"),
    };
}
