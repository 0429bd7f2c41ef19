namespace CacheCluster.Caching;

/// <summary>Targeted cache-control fields (RFC 9213), e.g. <c>CDN-Cache-Control</c>.</summary>
public sealed partial class CacheControl
{
    /// <summary>The targeted field defined by RFC 9213 3.</summary>
    public const string DefaultTargetField = "CDN-Cache-Control";

    /// <summary>
    /// The name of the targeted field these directives came from (RFC 9213 2.1), or null when they came from
    /// <c>Cache-Control</c>. When set, <c>Expires</c> is ignored for freshness (RFC 9213 2.1).
    /// </summary>
    public string? TargetedFieldName { get; private set; }

    /// <summary>True when these directives came from a targeted field rather than Cache-Control.</summary>
    public bool FromTargetedField => TargetedFieldName is not null;

    /// <summary>
    /// The response directives this (shared) cache must obey (RFC 9213 2.1): the first targeted field in
    /// <paramref name="targetFields"/> (a name, or a comma-separated target list in priority order, e.g.
    /// <c>"CacheCluster-Cache-Control, CDN-Cache-Control"</c>) that is present with a valid, non-empty
    /// Structured Field value replaces Cache-Control (and Expires) entirely; otherwise Cache-Control is parsed
    /// as usual. Null or empty <paramref name="targetFields"/> means "no targeted field".
    /// </summary>
    public static CacheControl ForSharedCache(string[] responseHeaderPairs, string? targetFields)
    {
        foreach (var target in TargetList(targetFields))
        {
            if (HeaderPairs.Count(responseHeaderPairs, target) == 0) continue;
            var targeted = ParseTargeted(target, HeaderPairs.GetAll(responseHeaderPairs, target));
            if (targeted is not null) return targeted;
        }
        return Parse(HeaderPairs.GetAll(responseHeaderPairs, "Cache-Control"));
    }

    /// <summary>
    /// Is <paramref name="fieldName"/> one of the targeted fields this cache uses? RFC 9213 3: a CDN that uses
    /// CDN-Cache-Control will typically forward it (downstream CDNs can use it too) but MAY remove it, e.g.
    /// when configured to; the proxy strips the fields this returns true for only when the operator asks.
    /// </summary>
    public static bool IsTargetedField(string fieldName, string? targetFields)
    {
        foreach (var target in TargetList(targetFields))
            if (string.Equals(target, fieldName, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Is <paramref name="fieldName"/> the default targeted field, CDN-Cache-Control?</summary>
    public static bool IsTargetedField(string fieldName) => IsTargetedField(fieldName, DefaultTargetField);

    /// <summary>
    /// Parses the lines of a targeted field as one Structured Field Dictionary (RFC 9213 2.2). Returns null
    /// when the field is empty or not a valid dictionary (then the cache ignores it, RFC 9213 2.1).
    /// Directive values of the wrong type are not consumed (2.2): a non-integer <c>max-age</c>/<c>s-maxage</c>
    /// marks the directive invalid (stale, the conservative reading); restrictive directives (no-store,
    /// private, no-cache, must-revalidate, proxy-revalidate, must-understand) count unless their value is
    /// <c>?0</c>; permissive ones (public, immutable) need a true value. Parameters are ignored.
    /// </summary>
    public static CacheControl? ParseTargeted(string fieldName, IEnumerable<string?> fieldValues)
    {
        var lines = fieldValues.Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim(' ', '\t')).ToArray();
        if (lines.Length == 0) return null;
        if (!StructuredDictionary.TryParse(string.Join(", ", lines), out var members)) return null;

        var cc = new CacheControl { Present = true, TargetedFieldName = fieldName };
        foreach (var (key, item) in members)
        {
            bool truthy = item.Kind != StructuredItemKind.Boolean || item.Boolean;
            bool isTrue = item.Kind == StructuredItemKind.Boolean && item.Boolean;
            switch (key)
            {
                case "max-age":
                    if (Delta(item) is long m) cc.MaxAge = m; else cc.MaxAgeInvalid = true;
                    break;
                case "s-maxage":
                    if (Delta(item) is long s) cc.SMaxAge = s; else cc.SMaxAgeInvalid = true;
                    break;
                case "stale-while-revalidate": cc.StaleWhileRevalidate = Delta(item); break;
                case "stale-if-error": cc.StaleIfError = Delta(item); break;
                case "no-store": cc.NoStore = truthy; break;
                case "must-revalidate": cc.MustRevalidate = truthy; break;
                case "proxy-revalidate": cc.ProxyRevalidate = truthy; break;
                case "must-understand": cc.MustUnderstand = truthy; break;
                case "no-transform": cc.NoTransform = truthy; break;
                case "public": cc.Public = isTrue; break;
                case "immutable": cc.Immutable = isTrue; break;
                case "no-cache":
                    if (item.Kind == StructuredItemKind.String && item.Text!.Trim().Length > 0) cc.NoCacheFields = SplitFields(item.Text);
                    else cc.NoCache = truthy;
                    break;
                case "private":
                    if (item.Kind == StructuredItemKind.String && item.Text!.Trim().Length > 0) cc.PrivateFields = SplitFields(item.Text);
                    else cc.Private = truthy;
                    break;
            }
        }
        return cc;

        static long? Delta(StructuredItem item) =>
            item.Kind == StructuredItemKind.Integer && item.Integer >= 0 ? Math.Min(item.Integer, MaxDeltaSeconds) : null;
    }

    private static IEnumerable<string> TargetList(string? targetFields)
    {
        if (string.IsNullOrWhiteSpace(targetFields)) yield break;
        foreach (var t in targetFields.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            yield return t;
    }
}
