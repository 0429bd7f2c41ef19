using System.Globalization;

namespace CacheCluster.Caching;

/// <summary>HTTP-date (RFC 9110 5.6.7): IMF-fixdate, plus the obsolete RFC 850 and asctime forms recipients must accept.</summary>
public static class HttpDate
{
    private static readonly string[] Formats =
    [
        "ddd, dd MMM yyyy HH:mm:ss 'GMT'",   // IMF-fixdate
        "ddd MMM d HH:mm:ss yyyy",          // asctime
        "ddd MMM  d HH:mm:ss yyyy",
        "ddd MMM dd HH:mm:ss yyyy",
    ];

    public static bool TryParse(string? value, out DateTimeOffset date)
    {
        date = default;
        if (string.IsNullOrWhiteSpace(value)) return false;
        // RFC 9111 4.2: date formats are case-sensitive, but a cache recipient should match them case-insensitively.
        var text = CanonicalCase(value.Trim());
        var comma = text.IndexOf(',');
        if (comma > 3 && text.IndexOf('-', comma) > 0)
        {
            // RFC 850 (obsolete): "Thursday, 18-Aug-50 02:01:18 GMT". The weekday is not checked (a two-digit year
            // is only placed in its century below), and a two-digit year that looks more than 50 years in the
            // future is in the past century (RFC 9110 5.6.7), relative to now rather than .NET's fixed window.
            if (!DateTimeOffset.TryParseExact(text[(comma + 1)..].TrimStart(), "dd-MMM-yy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out date)) return false;
            var thisYear = DateTimeOffset.UtcNow.Year;
            var year = thisYear / 100 * 100 + date.Year % 100;
            if (year > thisYear + 50) year -= 100;
            date = date.AddYears(year - date.Year);
            return true;
        }
        return DateTimeOffset.TryParseExact(text, Formats, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out date);
    }

    /// <summary>"THU, 18 AUG 2050 02:01:18 gmt" -> "Thu, 18 Aug 2050 02:01:18 GMT" (names capitalised, GMT upper case).</summary>
    private static string CanonicalCase(string text)
    {
        bool changed = false;
        Span<char> buffer = text.Length <= 128 ? stackalloc char[text.Length] : new char[text.Length];
        for (int i = 0; i < text.Length;)
        {
            if (!char.IsAsciiLetter(text[i])) { buffer[i] = text[i]; i++; continue; }
            int start = i;
            while (i < text.Length && char.IsAsciiLetter(text[i])) i++;
            var word = text.AsSpan(start, i - start);
            bool gmt = word.Equals("GMT", StringComparison.OrdinalIgnoreCase);
            for (int j = 0; j < word.Length; j++)
            {
                var c = gmt || j == 0 ? char.ToUpperInvariant(word[j]) : char.ToLowerInvariant(word[j]);
                changed |= c != word[j];
                buffer[start + j] = c;
            }
        }
        return changed ? new string(buffer) : text;
    }

    public static string Format(DateTimeOffset date) =>
        date.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
}
