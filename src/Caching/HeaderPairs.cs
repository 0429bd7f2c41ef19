namespace CacheCluster.Caching;

/// <summary>
/// Helpers over a flat header array <c>[name0, value0, name1, value1, …]</c>: the form stored entries use,
/// because it serialises compactly and is cheap to replay onto a response.
/// </summary>
public static class HeaderPairs
{
    public static string? Get(string[] pairs, string name)
    {
        for (int i = 0; i + 1 < pairs.Length; i += 2)
            if (string.Equals(pairs[i], name, StringComparison.OrdinalIgnoreCase)) return pairs[i + 1];
        return null;
    }

    public static IEnumerable<string> GetAll(string[] pairs, string name)
    {
        for (int i = 0; i + 1 < pairs.Length; i += 2)
            if (string.Equals(pairs[i], name, StringComparison.OrdinalIgnoreCase)) yield return pairs[i + 1];
    }

    public static int Count(string[] pairs, string name)
    {
        int n = 0;
        for (int i = 0; i + 1 < pairs.Length; i += 2)
            if (string.Equals(pairs[i], name, StringComparison.OrdinalIgnoreCase)) n++;
        return n;
    }
}
