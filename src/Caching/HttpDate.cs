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
        var text = value.Trim();
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

    public static string Format(DateTimeOffset date) =>
        date.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
}
