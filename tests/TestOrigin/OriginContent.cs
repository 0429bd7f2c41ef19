using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace CacheCluster.TestOrigin;

/// <summary>
/// The deterministic body content served by <c>/bytes/{size}</c>, <c>/abort/{size}</c> and
/// <c>/slow-body/{size}</c>. The bytes depend only on the (percent-decoded) path and the optional
/// <c>seed</c> query parameter: <c>/bytes/1k?cc=none</c> and <c>/bytes/1k</c> have the same body,
/// <c>/bytes/1k?seed=2</c> a different one. Use these helpers to check byte identity without asking the origin.
/// </summary>
public static class OriginContent
{
    /// <summary>Parses a size such as <c>1024</c>, <c>1k</c>, <c>64K</c>, <c>1m</c>, <c>50m</c>, <c>1g</c> (binary units).</summary>
    public static bool TryParseSize(ReadOnlySpan<char> text, out long size)
    {
        size = 0;
        if (text.IsEmpty) return false;
        long multiplier = 1;
        switch (text[^1])
        {
            case 'k' or 'K': multiplier = 1L << 10; text = text[..^1]; break;
            case 'm' or 'M': multiplier = 1L << 20; text = text[..^1]; break;
            case 'g' or 'G': multiplier = 1L << 30; text = text[..^1]; break;
        }
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) return false;
        if (n > long.MaxValue / multiplier) return false;
        size = n * multiplier;
        return true;
    }

    /// <summary>Parses a size or throws <see cref="FormatException"/>.</summary>
    public static long ParseSize(string text) =>
        TryParseSize(text, out var size) ? size : throw new FormatException($"not a size: '{text}'");

    /// <summary>
    /// The generator seed for a request target. Accepts origin-form (<c>/bytes/1k?seed=3</c>) or an absolute URL
    /// (<c>http://127.0.0.1:5000/bytes/1k?seed=3</c>).
    /// </summary>
    public static ulong SeedFor(string pathAndQueryOrUrl)
    {
        var (path, query) = SplitTarget(pathAndQueryOrUrl);
        return SeedFor(Uri.UnescapeDataString(path), GetQueryValue(query, "seed"));
    }

    /// <summary>The generator seed for a decoded path and an optional <c>seed</c> query value.</summary>
    public static ulong SeedFor(string decodedPath, string? seedParam)
    {
        // FNV-1a 64 over the UTF-16 code units of the path, then the seed parameter.
        ulong h = 14695981039346656037UL;
        foreach (var c in decodedPath) { h ^= c; h *= 1099511628211UL; }
        h ^= 0xFF; h *= 1099511628211UL;
        if (!string.IsNullOrEmpty(seedParam))
            foreach (var c in seedParam) { h ^= c; h *= 1099511628211UL; }
        // Finalise (splitmix64) so that similar paths give unrelated streams; xorshift needs a non-zero state.
        h = Mix(h);
        return h == 0 ? 0x9E3779B97F4A7C15UL : h;
    }

    /// <summary>The exact body the origin sends for this target, whose size is taken from its last path segment.</summary>
    public static byte[] Expected(string pathAndQueryOrUrl) => Expected(pathAndQueryOrUrl, SizeFromTarget(pathAndQueryOrUrl));

    /// <summary>The first <paramref name="size"/> bytes the origin sends for this target.</summary>
    public static byte[] Expected(string pathAndQueryOrUrl, long size)
    {
        var result = GC.AllocateUninitializedArray<byte>(checked((int)size));
        new ContentGenerator(SeedFor(pathAndQueryOrUrl)).Fill(result);
        return result;
    }

    /// <summary>Lower-case hex SHA-256 of the body the origin sends for this target (streamed, no large buffer).</summary>
    public static string ExpectedSha256(string pathAndQueryOrUrl) => ExpectedSha256(pathAndQueryOrUrl, SizeFromTarget(pathAndQueryOrUrl));

    /// <summary>Lower-case hex SHA-256 of the first <paramref name="size"/> bytes the origin sends for this target.</summary>
    public static string ExpectedSha256(string pathAndQueryOrUrl, long size)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var gen = new ContentGenerator(SeedFor(pathAndQueryOrUrl));
        var buffer = new byte[64 * 1024];
        for (long left = size; left > 0;)
        {
            var n = (int)Math.Min(buffer.Length, left);
            gen.Fill(buffer.AsSpan(0, n));
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Lower-case hex SHA-256 of a stream read to its end (helper for comparing with <see cref="ExpectedSha256(string)"/>).</summary>
    public static async Task<(long Length, string Sha256)> Sha256Async(Stream stream, CancellationToken ct = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(buffer, 0, n);
            total += n;
        }
        return (total, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>The size encoded in the last path segment of a target such as <c>/bytes/64k?seed=1</c>.</summary>
    public static long SizeFromTarget(string pathAndQueryOrUrl)
    {
        var (path, _) = SplitTarget(pathAndQueryOrUrl);
        path = Uri.UnescapeDataString(path).TrimEnd('/');
        var last = path[(path.LastIndexOf('/') + 1)..];
        return ParseSize(last);
    }

    internal static (string Path, string Query) SplitTarget(string target)
    {
        var s = target;
        var scheme = s.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0 && scheme < s.IndexOfAny(['/', '?']) + 1)
        {
            var slash = s.IndexOfAny(['/', '?'], scheme + 3);
            s = slash < 0 ? "/" : s[slash..];
            if (s.StartsWith('?')) s = "/" + s;
        }
        var hashMark = s.IndexOf('#');
        if (hashMark >= 0) s = s[..hashMark];
        var q = s.IndexOf('?');
        return q < 0 ? (s, "") : (s[..q], s[(q + 1)..]);
    }

    internal static string? GetQueryValue(string query, string name)
    {
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var key = eq < 0 ? part : part[..eq];
            if (Uri.UnescapeDataString(key.Replace('+', ' ')) == name)
                return eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
        }
        return null;
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// An xorshift64* byte stream: 8 little-endian bytes per step. Filling in pieces of any length yields the same
/// bytes as filling in one go.
/// </summary>
public struct ContentGenerator
{
    private ulong _state;
    private ulong _pending;   // bytes of the current word not handed out yet (low bytes first)
    private int _pendingCount;

    public ContentGenerator(ulong seed)
    {
        _state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
        _pending = 0;
        _pendingCount = 0;
    }

    /// <summary>Writes the next <c>destination.Length</c> bytes of the stream.</summary>
    public void Fill(Span<byte> destination)
    {
        // Drain a partially used word first.
        while (_pendingCount > 0 && !destination.IsEmpty)
        {
            destination[0] = (byte)_pending;
            _pending >>= 8;
            _pendingCount--;
            destination = destination[1..];
        }
        var s = _state;
        while (destination.Length >= 8)
        {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            BinaryPrimitives.WriteUInt64LittleEndian(destination, s * 0x2545F4914F6CDD1DUL);
            destination = destination[8..];
        }
        if (!destination.IsEmpty)
        {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            var word = s * 0x2545F4914F6CDD1DUL;
            for (var i = 0; i < destination.Length; i++) { destination[i] = (byte)word; word >>= 8; }
            _pending = word;
            _pendingCount = 8 - destination.Length;
        }
        _state = s;
    }

    /// <summary>Skips <paramref name="count"/> bytes of the stream.</summary>
    public void Skip(long count)
    {
        Span<byte> scratch = stackalloc byte[256];
        while (count > 0)
        {
            var n = (int)Math.Min(scratch.Length, count);
            Fill(scratch[..n]);
            count -= n;
        }
    }
}
