namespace CacheCluster.Caching;

/// <summary>
/// Fields a shared cache keeps out of a stored response: those named by a qualified <c>private="…"</c>
/// (RFC 9111 5.2.2.7: must not be stored) and <c>no-cache="…"</c> (5.2.2.4: must not be reused without
/// revalidation; not storing them is the simple way to honour that).
/// </summary>
public static class WithheldFields
{
    /// <summary>The header pairs without the fields <paramref name="cc"/> withholds (the same array when none).</summary>
    public static string[] Remove(string[] headerPairs, CacheControl cc)
    {
        if (cc.PrivateFields.Count == 0 && cc.NoCacheFields.Count == 0) return headerPairs;
        var kept = new List<string>(headerPairs.Length);
        for (int i = 0; i + 1 < headerPairs.Length; i += 2)
        {
            if (Listed(cc.PrivateFields, headerPairs[i]) || Listed(cc.NoCacheFields, headerPairs[i])) continue;
            kept.Add(headerPairs[i]);
            kept.Add(headerPairs[i + 1]);
        }
        return [.. kept];
    }

    private static bool Listed(IReadOnlyList<string> fields, string name)
    {
        foreach (var f in fields) if (string.Equals(f, name, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}
