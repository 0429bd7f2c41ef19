using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Configuration;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Compression;

/// <summary>
/// Which stored responses have compressed forms (Cache:Compression:*), which coding a request gets, and the
/// <c>Vary: Accept-Encoding</c> every response of such a resource carries, identity ones included, so that caches
/// downstream never hand one client's coding to another.
/// </summary>
public sealed class CompressionPolicy
{
    private readonly CompressionSettings _settings;
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _anySubtype = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Type, string Suffix)> _suffixes = [];

    public CompressionPolicy(NodeSettings settings) : this(settings.Cache.Compression) { }

    public CompressionPolicy(CompressionSettings settings)
    {
        _settings = settings;
        foreach (var pattern in settings.Types)
        {
            int slash = pattern.IndexOf('/');
            var (type, sub) = (pattern[..slash], pattern[(slash + 1)..]);
            if (sub == "*") _anySubtype.Add(type);
            else if (sub.StartsWith("*+", StringComparison.Ordinal)) _suffixes.Add((type, sub[1..]));
            else _exact.Add(pattern);
        }
    }

    public bool Enabled => _settings.Enabled;
    public CompressionSettings Settings => _settings;

    /// <summary>
    /// The coding this request gets for the stored identity <paramref name="head"/>, or null (identity): compression
    /// on, a compressible resource, and a client that accepts br or gzip and does not ask for no-transform / no-store.
    /// </summary>
    public string? CodingFor(HttpRequest request, CacheControl requestCc, EntryHead head)
    {
        if (!_settings.Enabled || head.Status != StatusCodes.Status200OK) return null;
        if (request.Headers.AcceptEncoding.Count == 0 || requestCc.NoTransform || requestCc.NoStore) return null;
        if (!Compressible(head.Headers, head.BodyLength) || EncodedForms.IsFormKey(head.CacheKey)) return null;
        return AcceptEncoding.Choose(request.Headers.AcceptEncoding);
    }

    /// <summary>
    /// Whether a 200 with these headers has compressed forms: a compressible media type, not encoded by the origin, no
    /// <c>no-transform</c> (RFC 9110 7.7), a length within MinSize..MaxSize (-1: not known yet, counted as compressible).
    /// </summary>
    public bool Compressible(string[] headers, long bodyLength)
    {
        if (bodyLength >= 0 && (bodyLength < _settings.MinBytes || bodyLength > _settings.MaxBytes)) return false;
        string? type = null;
        for (int i = 0; i + 1 < headers.Length; i += 2)
        {
            var name = headers[i];
            if (name.Equals(HeaderNames.ContentType, StringComparison.OrdinalIgnoreCase)) type = headers[i + 1];
            else if (name.Equals(HeaderNames.ContentEncoding, StringComparison.OrdinalIgnoreCase) || name.Equals(HeaderNames.ContentRange, StringComparison.OrdinalIgnoreCase)) return false;
            else if (name.Equals(HeaderNames.CacheControl, StringComparison.OrdinalIgnoreCase)
                     && headers[i + 1].Contains("no-transform", StringComparison.OrdinalIgnoreCase)) return false;
        }
        return type is not null && TypeMatches(type);
    }

    /// <summary>Whether a Content-Type value names a media type of Cache:Compression:Types.</summary>
    public bool TypeMatches(string contentType)
    {
        var media = contentType.AsSpan();
        int semi = media.IndexOf(';');
        if (semi >= 0) media = media[..semi];
        var type = media.Trim().ToString();
        if (_exact.Contains(type)) return true;
        int slash = type.IndexOf('/');
        if (slash <= 0) return false;
        if (_anySubtype.Contains(type[..slash])) return true;
        foreach (var (t, suffix) in _suffixes)
            if (type.AsSpan(0, slash).Equals(t, StringComparison.OrdinalIgnoreCase) && type.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Adds <c>Vary: Accept-Encoding</c> to a response of a stored 200 that has (or may get) compressed forms.</summary>
    public void AddVary(IHeaderDictionary response, int status, string[] storedHeaders, long bodyLength)
    {
        if (!_settings.Enabled || status != StatusCodes.Status200OK || !Compressible(storedHeaders, bodyLength)) return;
        if (!NamesAcceptEncoding(response.Vary)) response.Append(HeaderNames.Vary, HeaderNames.AcceptEncoding);
    }

    /// <summary>Origin response headers (flat pairs) with <c>Vary: Accept-Encoding</c> added when <see cref="AddVary"/> would add it.</summary>
    public string[] WithVary(int status, string[] headers, long bodyLength)
    {
        if (!_settings.Enabled || status != StatusCodes.Status200OK || !Compressible(headers, bodyLength)
            || NamesAcceptEncoding(HeaderPairs.GetAll(headers, HeaderNames.Vary))) return headers;
        return [.. headers, HeaderNames.Vary, HeaderNames.AcceptEncoding];
    }

    /// <summary>Whether Vary field lines already name Accept-Encoding (or are <c>*</c>).</summary>
    public static bool NamesAcceptEncoding(IEnumerable<string?> varyLines)
    {
        foreach (var line in varyLines)
        {
            if (line is null) continue;
            foreach (var name in line.Split(',', StringSplitOptions.TrimEntries))
                if (name == "*" || name.Equals(HeaderNames.AcceptEncoding, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }
}
