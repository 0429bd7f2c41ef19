using System.Globalization;
namespace CacheCluster.Caching;

/// <summary>An inclusive, resolved byte range <c>First..Last</c> of a representation.</summary>
public readonly record struct ByteRange(long First, long Last)
{
    public long Length => Last - First + 1;
}

/// <summary>What a <c>Range</c> header asks of a representation of known length.</summary>
public enum RangeOutcome
{
    /// <summary>Absent, another unit, invalid syntax or too many ranges: ignore it and serve the full 200 (RFC 9110 14.2).</summary>
    Ignore,
    /// <summary>At least one range overlaps the representation: 206.</summary>
    Satisfiable,
    /// <summary>Valid, but no range overlaps the representation: 416 with <c>Content-Range: bytes */LEN</c>.</summary>
    Unsatisfiable,
}

/// <summary>
/// <c>Range: bytes=…</c> (RFC 9110 14.1.2, 14.2) and <c>If-Range</c> (RFC 9110 13.1.5), pure code.
/// <para>
/// Pathological requests: more than <see cref="MaxRanges"/> range-specs are ignored (full 200). Ranges that
/// overlap or touch (<c>next.First &lt;= cur.Last + 1</c>) are coalesced into one (RFC 9110 14.6 allows it),
/// so the parts of a multipart response never repeat a byte and their total never exceeds the representation.
/// Parts are kept in the order the client listed them; a coalesced part takes the place of its earliest member.
/// </para>
/// </summary>
public static class ByteRanges
{
    /// <summary>More range-specs than this in one header: the header is ignored (the full representation is served).</summary>
    public const int MaxRanges = 100;

    /// <summary>How far a Last-Modified must precede the response's Date to be a strong validator (RFC 9110 8.8.2.2).</summary>
    public static readonly TimeSpan StrongLastModifiedMargin = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Parses a <c>Range</c> header value against a representation of <paramref name="length"/> bytes.
    /// <paramref name="ranges"/> holds the satisfiable ranges (clipped to the representation, coalesced) when
    /// the outcome is <see cref="RangeOutcome.Satisfiable"/>, and is empty otherwise.
    /// </summary>
    public static RangeOutcome Parse(string? header, long length, out ByteRange[] ranges)
    {
        ranges = [];
        if (header is null || length < 0) return RangeOutcome.Ignore;
        var text = header.AsSpan();
        int eq = text.IndexOf('=');
        if (eq < 0) return RangeOutcome.Ignore;
        // Range units are case-insensitive (RFC 9110 14.1); only bytes is known here.
        if (!TrimOws(text[..eq]).Equals("bytes", StringComparison.OrdinalIgnoreCase)) return RangeOutcome.Ignore;

        var specs = new List<(long First, long Last, bool Suffix)>();
        var rest = text[(eq + 1)..];
        while (true)
        {
            int comma = rest.IndexOf(',');
            var element = TrimOws(comma < 0 ? rest : rest[..comma]);
            // Empty list elements are allowed and ignored (RFC 9110 5.6.1.2).
            if (!element.IsEmpty)
            {
                if (specs.Count == MaxRanges) return RangeOutcome.Ignore;
                if (!TryParseSpec(element, out var spec)) return RangeOutcome.Ignore;
                specs.Add(spec);
            }
            if (comma < 0) break;
            rest = rest[(comma + 1)..];
        }
        if (specs.Count == 0) return RangeOutcome.Ignore;

        if (length == 0)
        {
            // Nothing can be selected from an empty representation. A non-zero suffix is the one "satisfiable"
            // form (RFC 9110 14.1.1) but selects no bytes: serve the (empty) full 200 for it.
            foreach (var s in specs) if (s.Suffix && s.Last > 0) return RangeOutcome.Ignore;
            return RangeOutcome.Unsatisfiable;
        }

        var resolved = new List<(ByteRange Range, int Order)>(specs.Count);
        foreach (var (first, last, suffix) in specs)
        {
            if (suffix)
            {
                // Suffix "-N": the last N bytes; "-0" is unsatisfiable.
                if (last == 0) continue;
                resolved.Add((new ByteRange(Math.Max(0, length - last), length - 1), resolved.Count));
            }
            else
            {
                if (first >= length) continue;
                resolved.Add((new ByteRange(first, Math.Min(last, length - 1)), resolved.Count));
            }
        }
        if (resolved.Count == 0) return RangeOutcome.Unsatisfiable;
        ranges = Coalesce(resolved);
        return RangeOutcome.Satisfiable;
    }

    /// <summary>
    /// Does an <c>If-Range</c> value hold for a stored representation (RFC 9110 13.1.5)? An entity-tag must match
    /// the stored strong ETag by strong comparison (a weak tag on either side never matches); an HTTP-date must
    /// equal the stored Last-Modified exactly, and only when that Last-Modified is at least 60 s before the stored
    /// Date (a strong validator). Anything else (unparseable, missing validator) does not hold: serve the full 200.
    /// </summary>
    public static bool IfRangeHolds(string? ifRange, string? etag, string? lastModified, string? date)
    {
        if (ifRange is null) return true;
        var value = ifRange.Trim(' ', '\t');
        if (value.StartsWith("W/", StringComparison.Ordinal)) return false;
        if (value.StartsWith('"'))
        {
            if (!IsStrongEntityTag(value) || etag is null) return false;
            var stored = etag.Trim(' ', '\t');
            return IsStrongEntityTag(stored) && string.Equals(value, stored, StringComparison.Ordinal);
        }
        if (!HttpDate.TryParse(value, out var asked)) return false;
        if (!HttpDate.TryParse(lastModified, out var modified) || !HttpDate.TryParse(date, out var sent)) return false;
        if (modified > sent - StrongLastModifiedMargin) return false;
        return asked == modified;
    }

    /// <summary>The <c>Content-Range</c> value of a part: <c>bytes a-b/LEN</c>.</summary>
    public static string ContentRange(ByteRange range, long length) =>
        string.Create(CultureInfo.InvariantCulture, $"bytes {range.First}-{range.Last}/{length}");

    /// <summary>The <c>Content-Range</c> value of a 416: <c>bytes */LEN</c>.</summary>
    public static string UnsatisfiedContentRange(long length) =>
        string.Create(CultureInfo.InvariantCulture, $"bytes */{length}");

    // int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length. Digits only, no inner whitespace.
    private static bool TryParseSpec(ReadOnlySpan<char> element, out (long First, long Last, bool Suffix) spec)
    {
        spec = default;
        int dash = element.IndexOf('-');
        if (dash < 0) return false;
        if (dash == 0)
        {
            if (!TryParseDigits(element[1..], out var n)) return false;
            spec = (0, n, true);
            return true;
        }
        if (!TryParseDigits(element[..dash], out var first)) return false;
        var lastText = element[(dash + 1)..];
        long last = long.MaxValue;
        if (!lastText.IsEmpty && !TryParseDigits(lastText, out last)) return false;
        // An int-range whose last-pos is before its first-pos is invalid (RFC 9110 14.1.1): ignore the header.
        if (last < first) return false;
        spec = (first, last, false);
        return true;
    }

    /// <summary>1*DIGIT; values beyond long.MaxValue saturate (they are then simply past any representation).</summary>
    private static bool TryParseDigits(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        if (text.IsEmpty) return false;
        foreach (var c in text)
        {
            if (c is < '0' or > '9') return false;
            int d = c - '0';
            value = value > (long.MaxValue - d) / 10 ? long.MaxValue : value * 10 + d;
        }
        return true;
    }

    private static ReadOnlySpan<char> TrimOws(ReadOnlySpan<char> s) => s.Trim(" \t");

    private static bool IsStrongEntityTag(string tag) =>
        tag.Length >= 2 && tag[0] == '"' && tag[^1] == '"' && tag.AsSpan(1, tag.Length - 2).IndexOf('"') < 0;

    /// <summary>Merges overlapping or adjacent ranges; the merged parts keep the client's order (by their earliest member).</summary>
    private static ByteRange[] Coalesce(List<(ByteRange Range, int Order)> resolved)
    {
        if (resolved.Count == 1) return [resolved[0].Range];
        resolved.Sort((a, b) => a.Range.First.CompareTo(b.Range.First));
        var merged = new List<(ByteRange Range, int Order)>(resolved.Count);
        var current = resolved[0];
        for (int i = 1; i < resolved.Count; i++)
        {
            var next = resolved[i];
            if (next.Range.First <= current.Range.Last + 1)
            {
                current = (new ByteRange(current.Range.First, Math.Max(current.Range.Last, next.Range.Last)),
                    Math.Min(current.Order, next.Order));
            }
            else
            {
                merged.Add(current);
                current = next;
            }
        }
        merged.Add(current);
        merged.Sort((a, b) => a.Order.CompareTo(b.Order));
        var result = new ByteRange[merged.Count];
        for (int i = 0; i < result.Length; i++) result[i] = merged[i].Range;
        return result;
    }
}
