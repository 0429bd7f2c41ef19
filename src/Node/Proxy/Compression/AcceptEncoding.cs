using Microsoft.Extensions.Primitives;

namespace CacheCluster.Node.Proxy.Compression;

/// <summary>
/// Which content coding a client gets (RFC 9110 12.5.3): the acceptable coding we can make with the highest q-value,
/// brotli before gzip on a tie (smaller for the same content); null: identity. <c>*</c> stands for any coding the
/// field does not name; q=0 means "not acceptable"; <c>x-gzip</c> is gzip (RFC 9110 8.4.1.3).
/// </summary>
public static class AcceptEncoding
{
    public static string? Choose(StringValues fieldLines)
    {
        if (fieldLines.Count == 0) return null;
        double br = -1, gzip = -1, star = -1; // -1: not named
        foreach (var line in fieldLines)
        {
            if (string.IsNullOrEmpty(line)) continue;
            foreach (var member in line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var (coding, q) = Parse(member);
                if (q < 0) continue; // malformed: ignored
                if (coding.Equals("br", StringComparison.OrdinalIgnoreCase)) br = Math.Max(br, q);
                else if (coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase)) gzip = Math.Max(gzip, q);
                else if (coding == "*") star = Math.Max(star, q);
            }
        }
        if (br < 0) br = star;
        if (gzip < 0) gzip = star;
        if (br <= 0 && gzip <= 0) return null;
        return br >= gzip ? "br" : "gzip";
    }

    /// <summary>A member <c>coding[;q=value]</c>; q is -1 when the member is malformed.</summary>
    private static (string Coding, double Q) Parse(string member)
    {
        int semi = member.IndexOf(';');
        if (semi < 0) return (member, 1);
        var coding = member[..semi].TrimEnd();
        double q = 1;
        foreach (var p in member[(semi + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = p.IndexOf('=');
            if (eq < 0 || !p[..eq].Trim().Equals("q", StringComparison.OrdinalIgnoreCase)) continue;
            if (!TryQValue(p[(eq + 1)..].Trim(), out q)) return (coding, -1);
        }
        return (coding, q);
    }

    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    private static bool TryQValue(string s, out double q)
    {
        q = 0;
        if (s.Length == 0 || s.Length > 5 || (s[0] != '0' && s[0] != '1') || (s.Length > 1 && s[1] != '.')) return false;
        for (int i = 2; i < s.Length; i++) if (s[i] is < '0' or > '9') return false;
        return double.TryParse(s, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out q)
               && q <= 1;
    }
}
