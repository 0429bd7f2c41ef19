using System.Globalization;

namespace CacheCluster.Node.Configuration;

/// <summary>
/// Sizes in configuration: a plain number of bytes, or a number with a unit. Every unit is a power of 1024,
/// as in Squid's configuration: K, KB and KiB are 1024 bytes; M, MB, MiB 1024²; G, GB, GiB 1024³; T, TB, TiB
/// 1024⁴ (case does not matter). There are no decimal units: write the bytes.
/// </summary>
public static class ByteSize
{
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim();
        int i = 0;
        while (i < s.Length && (char.IsDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number)) return false;
        var unit = s[i..].Trim().ToUpperInvariant();
        double multiplier = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => -1,
        };
        if (multiplier < 0) return false;
        var value = number * multiplier;
        if (value > long.MaxValue) return false;
        bytes = (long)value;
        return true;
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };
}
