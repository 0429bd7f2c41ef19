namespace CacheCluster.Caching;

/// <summary>
/// Entity tags and conditional requests (RFC 9110 8.8.3, 13.1; RFC 9111 4.3.2): how a cache answers a
/// client's If-None-Match / If-Modified-Since from a stored response.
/// </summary>
public static class Validators
{
    /// <summary>Weak comparison (RFC 9110 8.8.3.2): the opaque tags match, whatever their W/ prefixes.</summary>
    public static bool WeakMatch(string a, string b) => Opaque(a).SequenceEqual(Opaque(b));

    /// <summary>Strong comparison: neither tag is weak and the opaque tags match.</summary>
    public static bool StrongMatch(string a, string b) =>
        !IsWeak(a) && !IsWeak(b) && Opaque(a).SequenceEqual(Opaque(b));

    public static bool IsWeak(string tag) => tag.TrimStart().StartsWith("W/", StringComparison.Ordinal);

    /// <summary>
    /// The opaque tag without weakness prefix and quotes. Lenient with what origins and clients get wrong
    /// (a lower-case "w/", a missing pair of quotes): such a tag still names the same representation.
    /// </summary>
    private static ReadOnlySpan<char> Opaque(string tag)
    {
        var t = tag.AsSpan().Trim();
        if (t.StartsWith("W/") || t.StartsWith("w/")) t = t[2..];
        if (t.Length >= 2 && t[0] == '"' && t[^1] == '"') t = t[1..^1];
        return t;
    }

    /// <summary>The entity tags of an If-None-Match / If-Match list; "*" yields a single "*".</summary>
    public static List<string> ParseTagList(IEnumerable<string?> values)
    {
        var tags = new List<string>();
        foreach (var line in values)
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            int i = 0;
            while (i < line.Length)
            {
                while (i < line.Length && (line[i] == ',' || line[i] == ' ' || line[i] == '\t')) i++;
                if (i >= line.Length) break;
                if (line[i] == '*') { tags.Add("*"); i++; continue; }
                int start = i;
                if (line.AsSpan(i).StartsWith("W/")) i += 2;
                if (i < line.Length && line[i] == '"')
                {
                    int close = line.IndexOf('"', i + 1);
                    if (close < 0) break; // malformed: ignore the rest
                    tags.Add(line[start..(close + 1)]);
                    i = close + 1;
                }
                else
                {
                    // Unquoted tag: lenient, up to the next comma.
                    int comma = line.IndexOf(',', i);
                    var end = comma < 0 ? line.Length : comma;
                    tags.Add(line[start..end].Trim());
                    i = end;
                }
            }
        }
        return tags;
    }

    /// <summary>
    /// Would the stored response satisfy the client's conditional GET/HEAD with 304 (RFC 9111 4.3.2)?
    /// If-None-Match takes precedence; If-Modified-Since compares with Last-Modified, else Date.
    /// </summary>
    public static bool NotModified(string[] storedHeaders, IEnumerable<string?> ifNoneMatch, string? ifModifiedSince, DateTimeOffset storedAt)
    {
        var tags = ParseTagList(ifNoneMatch);
        if (tags.Count > 0)
        {
            var etag = HeaderPairs.Get(storedHeaders, "ETag");
            if (tags.Contains("*")) return true;
            if (etag is null) return false;
            foreach (var t in tags) if (WeakMatch(t, etag)) return true;
            return false;
        }
        if (ifModifiedSince is null || !HttpDate.TryParse(ifModifiedSince, out var since)) return false;
        var reference = HttpDate.TryParse(HeaderPairs.Get(storedHeaders, "Last-Modified"), out var lm) ? lm
            : Freshness.DateOf(storedHeaders) ?? storedAt;
        return reference <= since;
    }

    /// <summary>
    /// Does a 304 received for our conditional request freshen this stored response (RFC 9111 4.3.4)? Not when
    /// it names another representation: a strong ETag that is not the stored one, a weak ETag that does not
    /// weakly match it, or (without ETag) a Last-Modified other than the stored one. A 304 carrying no
    /// validator answers the validators we sent, so it freshens the response they came from.
    /// </summary>
    public static bool NotModifiedFreshens(string[] storedHeaders, string[] notModifiedHeaders)
    {
        var newTag = HeaderPairs.Get(notModifiedHeaders, "ETag");
        var storedTag = HeaderPairs.Get(storedHeaders, "ETag");
        if (newTag is not null)
        {
            if (storedTag is null) return false;
            return IsWeak(newTag) || IsWeak(storedTag) ? WeakMatch(newTag, storedTag) : StrongMatch(newTag, storedTag);
        }
        var newLm = HeaderPairs.Get(notModifiedHeaders, "Last-Modified");
        if (newLm is null) return true;
        var storedLm = HeaderPairs.Get(storedHeaders, "Last-Modified");
        return storedLm is not null && HttpDate.TryParse(newLm, out var a) && HttpDate.TryParse(storedLm, out var b) && a == b;
    }

    /// <summary>Headers a 304 carries (RFC 9110 15.4.5): those that would have been sent with a 200, minus content metadata.</summary>
    public static bool BelongsIn304(string name) =>
        name.Equals("Cache-Control", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Location", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Date", StringComparison.OrdinalIgnoreCase) || name.Equals("ETag", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Expires", StringComparison.OrdinalIgnoreCase) || name.Equals("Vary", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Last-Modified", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A stored response's headers updated from a 304 (RFC 9111 3.2, 4.3.4): every field the 304 carries
    /// replaces all stored instances of that field, except those that describe the stored body (Content-Length,
    /// Content-Type, Content-Encoding, Content-Range: a 304 cannot change the bytes we hold, and RFC 9111 3.2
    /// lets a cache keep them for the stored response's integrity) and Set-Cookie (stored responses never carry
    /// cookies: they belong to the one client that got them); hop-by-hop fields never arrive here. Fields the
    /// merged Cache-Control names in <c>private="…"</c> or <c>no-cache="…"</c> are then left out, as when
    /// storing (RFC 9111 3.1).
    /// </summary>
    private static readonly HashSet<string> NotUpdatedBy304 = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Set-Cookie",
    };

    public static string[] MergeNotModified(string[] stored, string[] fromNotModified)
    {
        var replaced = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i + 1 < fromNotModified.Length; i += 2)
            if (!NotUpdatedBy304.Contains(fromNotModified[i])) replaced.Add(fromNotModified[i]);
        var merged = new List<string>(stored.Length + fromNotModified.Length);
        for (int i = 0; i + 1 < stored.Length; i += 2)
            if (!replaced.Contains(stored[i])) { merged.Add(stored[i]); merged.Add(stored[i + 1]); }
        for (int i = 0; i + 1 < fromNotModified.Length; i += 2)
            if (replaced.Contains(fromNotModified[i])) { merged.Add(fromNotModified[i]); merged.Add(fromNotModified[i + 1]); }
        string[] result = [.. merged];
        return WithheldFields.Remove(result, CacheControl.Parse(HeaderPairs.GetAll(result, "Cache-Control")));
    }
}
