using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace CacheCluster.Contracts.Entries;

/// <summary>
/// Compressed forms (gzip, br) of a stored identity response: each is an ordinary entry of its own (own grain, owner,
/// store records, hot copies), derived from the identity entry by the node that first serves it to a client that
/// accepts the coding. The identity entry stays the source of truth: its head decides freshness and headers, a form
/// only holds encoded bytes. A form's key names the exact identity body it was made from (the URL's key, the coding,
/// the identity's generation, length and validators), so a replaced, refetched or invalidated identity entry can never
/// select an old form again; invalidating the identity entry also removes its forms (<see cref="KeysOf"/>).
/// </summary>
public static class EncodedForms
{
    /// <summary>The codings a form may have, in the cache's order of preference on equal q-values.</summary>
    public static readonly string[] Codings = ["br", "gzip"];

    // '#' is no token character: no URL key (no line breaks) and no Vary variant segment (a field name) starts with it.
    private const string Separator = "\n#";

    /// <summary>Whether a cache key is that of an encoded form.</summary>
    public static bool IsFormKey(string cacheKey) => cacheKey.Contains(Separator, StringComparison.Ordinal);

    /// <summary>The key of <paramref name="identity"/>'s form in <paramref name="coding"/>.</summary>
    public static string Key(EntryHead identity, string coding)
    {
        // Generations are per node: the length and validators make two different bodies under one URL's key with the
        // same generation number (stored on two nodes at different times) practically impossible to confuse.
        ulong validators = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(
            (Header(identity.Headers, "ETag") ?? "") + "\n" + (Header(identity.Headers, "Last-Modified") ?? "")));
        return string.Create(CultureInfo.InvariantCulture,
            $"{identity.CacheKey}{Separator}{coding}\n{identity.Generation:x}.{identity.BodyLength:x}.{validators:x16}");
    }

    /// <summary>
    /// Whether forms may have been derived from this stored head: a whole 200 with a body, not encoded by the origin,
    /// not itself a form or a Vary marker. (Which media types are compressed is the node's configuration; the owner
    /// removes the forms of any such entry it invalidates.)
    /// </summary>
    public static bool MayHaveForms(EntryHead head) =>
        head.Status == 200 && head.BodyLength > 0 && !VaryMarker.Is(head) && !IsFormKey(head.CacheKey)
        && Header(head.Headers, "Content-Encoding") is null;

    /// <summary>The keys of every form <paramref name="identity"/> may have.</summary>
    public static IEnumerable<string> KeysOf(EntryHead identity) => Codings.Select(c => Key(identity, c));

    private static string? Header(string[] pairs, string name)
    {
        for (int i = 0; i + 1 < pairs.Length; i += 2)
            if (pairs[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return pairs[i + 1];
        return null;
    }
}
