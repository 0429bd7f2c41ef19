using System.Globalization;
using System.Text;
namespace CacheCluster.Caching;

/// <summary>
/// The Cache-Control directives of one message (RFC 9111 5.2), parsed leniently but deliberately:
/// names are case-insensitive, values may be quoted, a repeated directive keeps its first valid value,
/// and a delta-seconds value that is not a number marks the directive <see cref="Invalid"/> (callers treat
/// an invalid freshness directive as "stale", the conservative choice of RFC 9111 4.2.1).
/// </summary>
public sealed partial class CacheControl
{
    /// <summary>RFC 9111 1.2.2: delta-seconds larger than 2^31 are treated as 2^31.</summary>
    public const long MaxDeltaSeconds = 2147483648L;

    public static readonly CacheControl Empty = new();

    public bool Present { get; private set; }
    public long? MaxAge { get; private set; }
    public long? SMaxAge { get; private set; }
    public bool MaxAgeInvalid { get; private set; }
    public bool SMaxAgeInvalid { get; private set; }
    public bool NoStore { get; private set; }
    public bool NoCache { get; private set; }
    /// <summary>Field names of a qualified <c>no-cache="a, b"</c>; empty for the bare form.</summary>
    public IReadOnlyList<string> NoCacheFields { get; private set; } = [];
    public bool Private { get; private set; }
    public IReadOnlyList<string> PrivateFields { get; private set; } = [];
    public bool Public { get; private set; }
    public bool MustRevalidate { get; private set; }
    public bool ProxyRevalidate { get; private set; }
    public bool MustUnderstand { get; private set; }
    public bool Immutable { get; private set; }
    public bool NoTransform { get; private set; }
    public bool OnlyIfCached { get; private set; }
    /// <summary>Request <c>max-stale</c>: present with no value means "any staleness".</summary>
    public bool MaxStaleAny { get; private set; }
    public long? MaxStale { get; private set; }
    public long? MinFresh { get; private set; }
    public long? StaleWhileRevalidate { get; private set; }
    public long? StaleIfError { get; private set; }

    public bool Invalid => MaxAgeInvalid || SMaxAgeInvalid;

    /// <summary>Parses every Cache-Control field line of a message (several lines form one list).</summary>
    public static CacheControl Parse(IEnumerable<string?>? fieldValues)
    {
        if (fieldValues is null) return Empty;
        CacheControl? cc = null;
        foreach (var line in fieldValues)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            cc ??= new CacheControl { Present = true };
            cc.ParseLine(line);
        }
        return cc ?? Empty;
    }

    public static CacheControl Parse(string? fieldValue) =>
        string.IsNullOrWhiteSpace(fieldValue) ? Empty : Parse([fieldValue]);

    private void ParseLine(string line)
    {
        var s = line.AsSpan();
        int i = 0;
        while (i < s.Length)
        {
            // Skip separators and whitespace.
            while (i < s.Length && (s[i] == ',' || s[i] == ' ' || s[i] == '\t')) i++;
            if (i >= s.Length) break;
            int nameStart = i;
            while (i < s.Length && s[i] != '=' && s[i] != ',' && s[i] != ' ' && s[i] != '\t') i++;
            var name = s[nameStart..i];
            ReadOnlySpan<char> value = default;
            bool hasValue = false;
            // cache-directive = token [ "=" ( token / quoted-string ) ]: no whitespace around "=" (RFC 9111 5.2).
            // "max-age =5" and "max-age= 5" both leave the directive with an empty value: an invalid max-age (stale),
            // and a bare (unqualified, the stricter reading) no-cache or private.
            if (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
            {
                while (i < s.Length && (s[i] == ' ' || s[i] == '\t')) i++;
                if (i < s.Length && s[i] == '=') hasValue = true;
            }
            else if (i < s.Length && s[i] == '=')
            {
                hasValue = true;
                i++;
                if (i < s.Length && (s[i] == ' ' || s[i] == '\t')) { /* empty value */ }
                else if (i < s.Length && s[i] == '"')
                {
                    int start = ++i;
                    var sb = new StringBuilder();
                    while (i < s.Length && s[i] != '"')
                    {
                        if (s[i] == '\\' && i + 1 < s.Length) i++;
                        sb.Append(s[i]);
                        i++;
                    }
                    if (i < s.Length) i++; // closing quote
                    value = sb.ToString().AsSpan();
                    _ = start;
                }
                else
                {
                    int start = i;
                    while (i < s.Length && s[i] != ',') i++;
                    value = s[start..i].TrimEnd();
                }
            }
            // Anything up to the next comma that is not part of this directive is ignored.
            while (i < s.Length && s[i] != ',') i++;
            Apply(name, hasValue, value);
        }
    }

    private void Apply(ReadOnlySpan<char> name, bool hasValue, ReadOnlySpan<char> value)
    {
        if (Is(name, "max-age"))
        {
            if (MaxAge is null && !MaxAgeInvalid) { if (TryDelta(hasValue, value, out var v)) MaxAge = v; else MaxAgeInvalid = true; }
        }
        else if (Is(name, "s-maxage"))
        {
            if (SMaxAge is null && !SMaxAgeInvalid) { if (TryDelta(hasValue, value, out var v)) SMaxAge = v; else SMaxAgeInvalid = true; }
        }
        else if (Is(name, "no-store")) NoStore = true;
        else if (Is(name, "no-cache"))
        {
            if (hasValue && value.Trim().Length > 0) NoCacheFields = [.. NoCacheFields, .. SplitFields(value)];
            else NoCache = true;
        }
        else if (Is(name, "private"))
        {
            if (hasValue && value.Trim().Length > 0) PrivateFields = [.. PrivateFields, .. SplitFields(value)];
            else Private = true;
        }
        else if (Is(name, "public")) Public = true;
        else if (Is(name, "must-revalidate")) MustRevalidate = true;
        else if (Is(name, "proxy-revalidate")) ProxyRevalidate = true;
        else if (Is(name, "must-understand")) MustUnderstand = true;
        else if (Is(name, "immutable")) Immutable = true;
        else if (Is(name, "no-transform")) NoTransform = true;
        else if (Is(name, "only-if-cached")) OnlyIfCached = true;
        else if (Is(name, "max-stale"))
        {
            if (!hasValue) MaxStaleAny = true;
            else if (MaxStale is null && TryDelta(true, value, out var v)) MaxStale = v;
        }
        else if (Is(name, "min-fresh")) { if (MinFresh is null && TryDelta(hasValue, value, out var v)) MinFresh = v; }
        else if (Is(name, "stale-while-revalidate")) { if (StaleWhileRevalidate is null && TryDelta(hasValue, value, out var v)) StaleWhileRevalidate = v; }
        else if (Is(name, "stale-if-error")) { if (StaleIfError is null && TryDelta(hasValue, value, out var v)) StaleIfError = v; }
    }

    private static bool Is(ReadOnlySpan<char> name, string directive) =>
        name.Equals(directive, StringComparison.OrdinalIgnoreCase);

    private static string[] SplitFields(ReadOnlySpan<char> value)
    {
        var parts = value.ToString().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts;
    }

    /// <summary>delta-seconds = 1*DIGIT; larger than 2^31 clamps to 2^31 (RFC 9111 1.2.2).</summary>
    public static bool TryDelta(bool hasValue, ReadOnlySpan<char> value, out long seconds)
    {
        seconds = 0;
        if (!hasValue || value.IsEmpty) return false;
        foreach (var c in value) if (c < '0' || c > '9') return false;
        // Leading zeros carry no magnitude ("000000000060" is 60, not a huge number).
        value = value.TrimStart('0');
        if (value.IsEmpty) return true;
        // Many digits: clamp rather than overflow.
        if (value.Length > 10) { seconds = MaxDeltaSeconds; return true; }
        seconds = Math.Min(long.Parse(value, CultureInfo.InvariantCulture), MaxDeltaSeconds);
        return true;
    }
}
