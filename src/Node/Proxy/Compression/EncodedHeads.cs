using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Compression;

/// <summary>
/// The heads of a compressed form: the one stored under the form's key (its bytes only; freshness and headers stay
/// the identity entry's), and the one served, made per request from the current identity head, so a form is always
/// served with what the identity entry says now (refreshed by a 304, aged, judged fresh).
/// </summary>
public static class EncodedHeads
{
    // The stored form's marker for "compression does not pay for this body": serve the identity form.
    private const string NotSmaller = "identity";

    /// <summary>The head stored under the form's key: the coding, and the body's place once committed.</summary>
    public static EntryHead Stored(EntryHead identity, string formKey, string coding, long length) => new()
    {
        CacheKey = formKey,
        Status = StatusCodes.Status200OK,
        Headers = [HeaderNames.ContentEncoding, coding],
        RequestTimeUnixMs = identity.RequestTimeUnixMs,
        ResponseTimeUnixMs = identity.ResponseTimeUnixMs,
        LifetimeMs = identity.LifetimeMs,
        InitialAgeMs = identity.InitialAgeMs,
        Flags = identity.Flags & ~EntryFlags.VaryMarker,
        BodyLength = length,
    };

    /// <summary>A stored form recording that compressing this body did not make it smaller (no body).</summary>
    public static EntryHead NotWorthIt(EntryHead identity, string formKey) => Stored(identity, formKey, NotSmaller, 0);

    public static bool IsNotWorthIt(EntryHead form) => HeaderPairs.Get(form.Headers, HeaderNames.ContentEncoding) == NotSmaller;

    /// <summary>
    /// What the client gets: the identity head's status and headers, with <c>Content-Encoding</c>, <c>Vary:
    /// Accept-Encoding</c>, a weak ETag (<c>W/"x"</c> from the origin's <c>"x"</c>: the same content, other bytes,
    /// RFC 9110 8.8.1), no digests of the identity bytes; and the form's body (length, chunks). <paramref name="form"/>
    /// null: only the headers (a 304).
    /// </summary>
    public static EntryHead Served(EntryHead identity, string coding, EntryHead? form)
    {
        var stored = identity.Headers;
        var headers = new List<string>(stored.Length + 4);
        bool varies = false;
        for (int i = 0; i + 1 < stored.Length; i += 2)
        {
            var (name, value) = (stored[i], stored[i + 1]);
            if (name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) || name.Equals("Content-MD5", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Content-Digest", StringComparison.OrdinalIgnoreCase) || name.Equals("Repr-Digest", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Digest", StringComparison.OrdinalIgnoreCase))
                continue;
            if (name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase)) value = Weak(value);
            else if (name.Equals(HeaderNames.Vary, StringComparison.OrdinalIgnoreCase) && CompressionPolicy.NamesAcceptEncoding([value])) varies = true;
            headers.Add(name);
            headers.Add(value);
        }
        headers.Add(HeaderNames.ContentEncoding);
        headers.Add(coding);
        if (!varies)
        {
            headers.Add(HeaderNames.Vary);
            headers.Add(HeaderNames.AcceptEncoding);
        }
        return identity with
        {
            CacheKey = form?.CacheKey ?? identity.CacheKey,
            Headers = [.. headers],
            BodyLength = form?.BodyLength ?? 0,
            ChunkCount = form?.ChunkCount ?? 0,
            Generation = form?.Generation ?? 0,
        };
    }

    /// <summary>The weak form of an entity tag (a weak one stays as it is).</summary>
    public static string Weak(string etag)
    {
        var t = etag.Trim();
        return t.StartsWith("W/", StringComparison.Ordinal) ? t : "W/" + t;
    }
}
