using System.Text;

namespace CacheCluster.TestOrigin;

/// <summary>
/// The deterministic, compressible body of <c>/text/{size}</c>: HTML-like lines of words picked by the same generator
/// as <see cref="OriginContent"/> (seeded by the decoded path and <c>seed</c>), cut to exactly <c>size</c> ASCII bytes.
/// Compresses roughly like real markup (a few times smaller), unlike the random bytes of <c>/bytes</c>.
/// </summary>
public static class TextContent
{
    private static readonly string[] Words =
    [
        "cache", "proxy", "cluster", "node", "owner", "entry", "store", "fill", "leader", "follower", "origin", "client",
        "request", "response", "header", "body", "chunk", "fresh", "stale", "hit", "miss", "vary", "encoding", "gzip",
        "brotli", "range", "validator", "etag", "modified", "since", "match", "none", "public", "private", "max-age",
        "the", "a", "of", "and", "to", "in", "is", "for", "on", "with", "that", "by", "from", "as", "it", "this",
        "server", "browser", "network", "memory", "disk", "budget", "evict", "clock", "hot", "copy", "drop", "purge", "key",
    ];

    /// <summary>The exact body the origin sends for this <c>/text/{size}</c> target.</summary>
    public static byte[] Expected(string pathAndQueryOrUrl) =>
        Generate(OriginContent.SeedFor(pathAndQueryOrUrl), OriginContent.SizeFromTarget(pathAndQueryOrUrl));

    public static byte[] Generate(ulong seed, long size)
    {
        var gen = new ContentGenerator(seed);
        var sb = new StringBuilder((int)Math.Min(size + 256, int.MaxValue));
        Span<byte> pick = stackalloc byte[8];
        int line = 0;
        while (sb.Length < size)
        {
            gen.Fill(pick);
            sb.Append("<p class=\"para-").Append(pick[0] % 7).Append("\" id=\"p").Append(line++).Append("\">");
            int words = 6 + pick[1] % 10;
            for (int w = 0; w < words; w++)
            {
                gen.Fill(pick[..1]);
                if (w > 0) sb.Append(' ');
                sb.Append(Words[pick[0] % Words.Length]);
            }
            sb.Append(".</p>\n");
        }
        return Encoding.ASCII.GetBytes(sb.ToString(0, (int)size));
    }
}
