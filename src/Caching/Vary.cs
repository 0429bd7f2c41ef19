using System.Text;

namespace CacheCluster.Caching;

/// <summary>
/// Vary (RFC 9111 4.1): which request headers select among a URL's stored responses, and how their values
/// are normalised before they are compared.
/// </summary>
public static class Vary
{
    /// <summary>
    /// The request header names a response varies on, lower-cased, in first-seen order, duplicates removed,
    /// across every Vary field line (and every comma-separated member). Empty when the response does not vary.
    /// <paramref name="star"/> is set when one member is <c>*</c>: such a response matches no later request.
    /// </summary>
    public static string[] Names(string[] responseHeaders, out bool star)
    {
        star = false;
        List<string>? names = null;
        foreach (var line in HeaderPairs.GetAll(responseHeaders, "Vary"))
        {
            foreach (var part in line.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == "*") { star = true; continue; }
                if (!IsToken(part)) continue; // not a field name: ignored rather than trusted
                var name = part.ToLowerInvariant();
                names ??= [];
                if (!names.Contains(name)) names.Add(name);
            }
        }
        return names is null ? [] : [.. names];
    }

    /// <summary>
    /// One request header's value for variant selection, or null when the request lacks it (absent only
    /// matches absent). Field lines are combined with commas, and whitespace around list members and runs
    /// of whitespace inside them are normalised, so <c>gzip,br</c>, <c>gzip, br</c> and two lines
    /// <c>gzip</c> / <c>br</c> select the same variant.
    /// </summary>
    public static string? NormalizedValue(IEnumerable<string?> lines)
    {
        StringBuilder? sb = null;
        foreach (var line in lines)
        {
            if (line is null) continue;
            sb ??= new StringBuilder(line.Length);
            foreach (var member in line.Split(','))
            {
                var trimmed = member.AsSpan().Trim(" \t");
                if (sb.Length > 0) sb.Append(',');
                bool space = false;
                foreach (var c in trimmed)
                {
                    if (c is ' ' or '\t') { space = true; continue; }
                    if (space) { sb.Append(' '); space = false; }
                    sb.Append(c);
                }
            }
        }
        return sb?.ToString();
    }

    /// <summary>Whether two Vary name lists select on the same request headers (order does not matter).</summary>
    public static bool SameNames(IReadOnlyCollection<string> a, IReadOnlyCollection<string> b) =>
        a.Count == b.Count && a.All(b.Contains);

    private static bool IsToken(string s)
    {
        foreach (var c in s)
            if (c <= ' ' || c >= 127 || "\"(),/:;<=>?@[\\]{}".Contains(c)) return false;
        return s.Length > 0;
    }
}
