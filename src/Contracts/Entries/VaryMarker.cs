using System.Text;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// A URL whose responses carry Vary (RFC 9111 4.1) is stored as a marker plus one entry per variant.
/// The marker is an <see cref="EntryHead"/> with <see cref="EntryFlags.VaryMarker"/> and no body, owned by the
/// URL's grain; it lists the request headers the URL varies on, an epoch, and every variant key registered
/// under it (so invalidating the URL removes them all). A variant's cache key is the URL's key, the epoch
/// and the selecting request values; each variant is an ordinary entry with its own grain, owner and fills.
/// A new marker has a new epoch, so variants of a removed marker can never be selected again.
/// </summary>
public static class VaryMarker
{
    // Pseudo-header names: a real field name can never contain ':'.
    private const string EpochField = ":vary-epoch";
    private const string VariantField = ":variant";
    private const string NameField = "Vary";

    /// <summary>At most this many variants per URL are registered (and the marker, one store record, stays
    /// under <see cref="MaxChars"/>). When full, a new variant replaces the least-hit of the
    /// <see cref="EvictionCandidates"/> oldest ones (that variant is dropped), so no client can lock others out.</summary>
    public const int MaxVariants = 256;
    public const int MaxChars = 24 * 1024;
    public const int EvictionCandidates = 8;

    public static bool Is(EntryHead head) => (head.Flags & EntryFlags.VaryMarker) != 0;

    public static EntryHead Create(string urlKey, IReadOnlyList<string> names, string epoch, string firstVariantKey, long nowUnixMs)
    {
        var headers = new string[names.Count * 2 + 4];
        int i = 0;
        foreach (var name in names) { headers[i++] = NameField; headers[i++] = name; }
        headers[i++] = EpochField; headers[i++] = epoch;
        headers[i++] = VariantField; headers[i] = firstVariantKey[urlKey.Length..];
        return new EntryHead
        {
            CacheKey = urlKey,
            Status = 0,
            Headers = headers,
            RequestTimeUnixMs = nowUnixMs,
            ResponseTimeUnixMs = nowUnixMs,
            LifetimeMs = 0,
            InitialAgeMs = 0,
            Flags = EntryFlags.VaryMarker,
        };
    }

    /// <summary>A new epoch: random, so a marker re-created after an invalidation never revives old variants.</summary>
    public static string NewEpoch() => Convert.ToHexString(BitConverter.GetBytes(Random.Shared.NextInt64()));

    public static string Epoch(EntryHead marker) => Get(marker, EpochField) ?? "";

    public static List<string> Names(EntryHead marker) => All(marker, NameField);

    /// <summary>The registered variants' cache keys (the marker keeps only what follows the URL's key).</summary>
    public static List<string> Variants(EntryHead marker) => All(marker, VariantField).ConvertAll(suffix => marker.CacheKey + suffix);

    public static int VariantCount(EntryHead marker) => All(marker, VariantField).Count;

    /// <summary>Characters the marker's fields take: bounded, since the marker is one store record.</summary>
    public static int Size(EntryHead marker) => marker.Headers.Sum(h => h.Length) + marker.CacheKey.Length;

    public static bool HasVariant(EntryHead marker, string variantKey)
    {
        if (!variantKey.StartsWith(marker.CacheKey, StringComparison.Ordinal)) return false;
        var suffix = variantKey.AsSpan(marker.CacheKey.Length);
        var h = marker.Headers;
        for (int i = 0; i + 1 < h.Length; i += 2)
            if (h[i] == VariantField && suffix.SequenceEqual(h[i + 1])) return true;
        return false;
    }

    public static EntryHead WithVariant(EntryHead marker, string variantKey) =>
        marker with { Headers = [.. marker.Headers, VariantField, variantKey[marker.CacheKey.Length..]] };

    /// <summary>The marker without <paramref name="variantKey"/>'s registration (the others keep their order).</summary>
    public static EntryHead WithoutVariant(EntryHead marker, string variantKey)
    {
        if (!variantKey.StartsWith(marker.CacheKey, StringComparison.Ordinal)) return marker;
        var suffix = variantKey[marker.CacheKey.Length..];
        var h = marker.Headers;
        var kept = new List<string>(h.Length);
        for (int i = 0; i + 1 < h.Length; i += 2)
        {
            if (h[i] == VariantField && h[i + 1] == suffix) continue;
            kept.Add(h[i]);
            kept.Add(h[i + 1]);
        }
        return marker with { Headers = [.. kept] };
    }

    /// <summary>
    /// The cache key of the variant a request selects: the URL's key, the epoch, then each varying header's
    /// name and normalised value (absent headers have no ':'), one per line. Request header values cannot
    /// contain a line break, so two different selections never share a key.
    /// </summary>
    public static string VariantKey(string urlKey, string epoch, IReadOnlyList<string> names, Func<string, string?> normalizedRequestValue)
    {
        var sb = new StringBuilder(urlKey.Length + 64);
        sb.Append(urlKey).Append('\n').Append(epoch);
        foreach (var name in names)
        {
            sb.Append('\n').Append(name);
            if (normalizedRequestValue(name) is { } value) sb.Append(':').Append(value);
        }
        return sb.ToString();
    }

    /// <summary>The URL part of a cache key (a variant key starts with its URL's key and a line break).</summary>
    public static string UrlKeyOf(string cacheKey)
    {
        int nl = cacheKey.IndexOf('\n');
        return nl < 0 ? cacheKey : cacheKey[..nl];
    }

    private static string? Get(EntryHead marker, string field)
    {
        var h = marker.Headers;
        for (int i = 0; i + 1 < h.Length; i += 2)
            if (h[i] == field) return h[i + 1];
        return null;
    }

    private static List<string> All(EntryHead marker, string field)
    {
        var list = new List<string>();
        var h = marker.Headers;
        for (int i = 0; i + 1 < h.Length; i += 2)
            if (h[i] == field) list.Add(h[i + 1]);
        return list;
    }
}
