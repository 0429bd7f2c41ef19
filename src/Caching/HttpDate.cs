using System.Globalization;

namespace CacheCluster.Caching;

/// <summary>HTTP-date (RFC 9110 5.6.7): IMF-fixdate, plus the obsolete RFC 850 and asctime forms recipients must accept.</summary>
public static class HttpDate
{
    private static readonly string[] Formats =
    [
        "ddd, dd MMM yyyy HH:mm:ss 'GMT'",   // IMF-fixdate
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'",    // RFC 850
        "ddd MMM d HH:mm:ss yyyy",          // asctime
        "ddd MMM  d HH:mm:ss yyyy",
        "ddd MMM dd HH:mm:ss yyyy",
    ];

    public static bool TryParse(string? value, out DateTimeOffset date)
    {
        date = default;
        if (string.IsNullOrWhiteSpace(value)) return false;
        return DateTimeOffset.TryParseExact(value.Trim(), Formats, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out date);
    }

    public static string Format(DateTimeOffset date) =>
        date.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture);
}
