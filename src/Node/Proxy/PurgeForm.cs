using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// What an HTTP PURGE asks to remove, read from its headers (docs/policy.md, "Purging over HTTP"):
/// <list type="bullet">
/// <item>no purge header, or <c>X-Purge-Method: default|exact|url</c>: the URL and its variants (Squid, Varnish <c>return (purge)</c>);</item>
/// <item><c>X-Purge-Method: prefix</c>: every URL starting with the request URL;</item>
/// <item><c>X-Purge-Method: regex</c> with a URL ending in <c>.*</c> (the WordPress "Proxy Cache Purge" plugin's
///   whole-site purge): the part before <c>.*</c> as a prefix; other regular expressions are refused;</item>
/// <item><c>xkey</c>, <c>xkey-purge</c> (Varnish xkey) or <c>Surrogate-Key</c> (Fastly): surrogate keys, separated by
///   spaces or commas; each removes every entry whose stored Surrogate-Key or Cache-Tag names it.</item>
/// </list>
/// </summary>
public sealed record PurgeForm(PurgeKind Kind, IReadOnlyList<string> Values)
{
    public const string MethodHeader = "X-Purge-Method";
    public static readonly string[] KeyHeaders = ["xkey", "xkey-purge", "Surrogate-Key"];
    public const int MaxKeys = 64;
    public const int MaxKeyChars = 256;

    private static readonly char[] Separators = [' ', ',', '\t'];
    private static readonly char[] RegexSpecials = ['\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}'];

    /// <summary>Reads the form; <paramref name="cacheKey"/> is the request URL's cache key (as the proxy makes it).</summary>
    public static bool TryRead(IHeaderDictionary headers, string cacheKey, out PurgeForm form, out string error)
    {
        form = null!;
        error = "";
        var keys = new List<string>();
        foreach (var name in KeyHeaders)
            foreach (var value in headers[name])
                if (value is not null) keys.AddRange(value.Split(Separators, StringSplitOptions.RemoveEmptyEntries));
        var method = headers[MethodHeader].ToString().Trim().ToLowerInvariant();
        if (keys.Count > 0 || KeyHeaders.Any(h => headers.ContainsKey(h)))
        {
            if (method.Length > 0 && method != "xkey")
                return Fail($"{MethodHeader}: {method} cannot be combined with surrogate keys (xkey / Surrogate-Key)", out error);
            if (keys.Count == 0) return Fail("the surrogate key header is empty", out error);
            if (keys.Count > MaxKeys) return Fail($"{keys.Count} surrogate keys; at most {MaxKeys} in one request", out error);
            if (keys.FirstOrDefault(k => k.Length > MaxKeyChars) is { } longKey)
                return Fail($"a surrogate key is {longKey.Length} characters long; at most {MaxKeyChars}", out error);
            form = new PurgeForm(PurgeKind.SurrogateKey, [.. keys.Distinct(StringComparer.Ordinal)]);
            return true;
        }
        switch (method)
        {
            case "" or "default" or "exact" or "url":
                form = new PurgeForm(PurgeKind.Url, [cacheKey]);
                return true;
            case "prefix":
                form = new PurgeForm(PurgeKind.Prefix, [cacheKey]);
                return true;
            case "regex":
                // Only "<literal>.*": a prefix. Anything else would need a regex walk over every store.
                if (!cacheKey.EndsWith(".*", StringComparison.Ordinal) || cacheKey[..^2].IndexOfAny(RegexSpecials, PathStart(cacheKey)) >= 0)
                    return Fail($"{MethodHeader}: regex supports only a URL ending in '.*' with no other regular-expression characters (a prefix); use {MethodHeader}: prefix", out error);
                form = new PurgeForm(PurgeKind.Prefix, [cacheKey[..^2]]);
                return true;
            default:
                return Fail($"{MethodHeader}: '{Truncate(method)}' is not one of default, exact, url, prefix, regex (or send xkey / Surrogate-Key for surrogate keys)", out error);
        }
    }

    // The host part may contain '.': only the path and query are checked for regular-expression characters.
    private static int PathStart(string key)
    {
        int scheme = key.IndexOf("://", StringComparison.Ordinal);
        int slash = key.IndexOf('/', scheme < 0 ? 0 : scheme + 3);
        return slash < 0 ? key.Length - 2 : Math.Min(slash, key.Length - 2);
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
