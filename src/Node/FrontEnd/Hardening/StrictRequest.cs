using Microsoft.Extensions.Primitives;

namespace CacheCluster.Node.FrontEnd.Hardening;

/// <summary>
/// Request checks Kestrel does not make but a proxy in front of other servers needs (request smuggling,
/// cache poisoning). Kestrel already rejects, with 400: bare CR or LF, obs-fold, bad bytes in names and
/// values, several or invalid Content-Length, a Transfer-Encoding that does not end in chunked, several Host
/// headers (tests/Node.Tests/AdversarialTests.cs shows each). It accepts, and this adds: bad bytes in header
/// names, Content-Length with Transfer-Encoding (Kestrel renames the Content-Length to X-Content-Length),
/// transfer codings other than plain chunked, Transfer-Encoding from an HTTP/1.0 client, request targets with
/// characters a URL may not hold (RFC 3986 2: controls, space, <c>"&lt;&gt;\^`{|}</c>) or a fragment. Bare-LF line
/// ends are refused through Kestrel's own switch (<see cref="RejectBareLineFeeds"/>).
/// </summary>
public static class StrictRequest
{
    /// <param name="Close">The framing of what follows cannot be trusted: close the connection after the answer.</param>
    public readonly record struct Problem(int Status, string Message, bool Close = false);

    public static Problem? Check(HttpRequest request)
    {
        var headers = request.Headers;
        var target = request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (target is not null && TargetProblem(target) is { } targetProblem) return targetProblem;
        var te = headers.TransferEncoding;
        if (te.Count > 0)
        {
            // RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing; answer and close.
            if (HttpProtocol.IsHttp10(request.Protocol))
                return new Problem(StatusCodes.Status400BadRequest, "Transfer-Encoding is not accepted in an HTTP/1.0 request", Close: true);
            // Only plain "chunked": any other coding would be silently dropped when we re-frame the body upstream.
            if (te.Count > 1 || !string.Equals(te[0]?.Trim(), "chunked", StringComparison.OrdinalIgnoreCase))
                return new Problem(StatusCodes.Status501NotImplemented, $"the transfer coding '{te}' is not supported (only chunked)");
            if (headers.ContentLength is not null || headers.ContainsKey("Content-Length") || headers.ContainsKey("X-Content-Length"))
                return new Problem(StatusCodes.Status400BadRequest, "Content-Length together with Transfer-Encoding is not accepted");
        }
        foreach (var header in headers) // the dictionary's own enumerator: Keys would copy every name per request
            if (!IsToken(header.Key)) return new Problem(StatusCodes.Status400BadRequest, "a header name contains characters not allowed in a token");
        var expect = headers.Expect;
        if (expect.Count > 0 && (expect.Count > 1 || !string.Equals(expect[0]?.Trim(), "100-continue", StringComparison.OrdinalIgnoreCase)))
            return new Problem(StatusCodes.Status417ExpectationFailed, $"the expectation '{expect}' is not supported");
        if (headers.TryGetValue("Max-Forwards", out var mf) && (mf.Count > 1 || !long.TryParse(mf[0], System.Globalization.NumberStyles.None, null, out _)))
            return new Problem(StatusCodes.Status400BadRequest, "Max-Forwards must be one whole number");
        return null;
    }

    /// <summary>
    /// A fragment never goes to an origin or into a cache key (and would defeat <c>url_regex=\.exe$</c> rules); the
    /// other characters are not allowed in a URL unencoded, and origins read them in different ways.
    /// </summary>
    private static Problem? TargetProblem(string target)
    {
        foreach (var c in target)
        {
            if (c == '#') return new Problem(StatusCodes.Status400BadRequest, "the request target contains a fragment ('#…'); clients must not send one");
            if (c <= ' ' || c >= 127 || c is '"' or '<' or '>' or '\\' or '^' or '`' or '{' or '|' or '}')
                return new Problem(StatusCodes.Status400BadRequest,
                    c is > ' ' and < (char)127 ? $"the request target contains '{c}', which must be percent-encoded in a URL" : "the request target contains a control character, space or 8-bit byte");
        }
        return null;
    }

    /// <summary>Kestrel accepts a lone LF as a line end unless this switch is set (before the server starts).</summary>
    public static void RejectBareLineFeeds() =>
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);

    private static bool IsToken(string name)
    {
        if (name.Length == 0) return false;
        foreach (var c in name)
            if (c <= ' ' || c >= 127 || c is '(' or ')' or '<' or '>' or '@' or ',' or ';' or ':' or '\\' or '"' or '/' or '[' or ']' or '?' or '=' or '{' or '}')
                return false;
        return true;
    }

    /// <summary>Does a Via field list <paramref name="name"/> as the receiving proxy ("1.1 name", "HTTP/1.1 name (comment)")?</summary>
    public static bool HasOwnVia(StringValues via, string name)
    {
        foreach (var line in via)
        {
            if (line is null) continue;
            foreach (var range in line.AsSpan().Split(','))
            {
                var entry = line.AsSpan()[range].Trim();
                int space = entry.IndexOf(' ');
                if (space < 0) continue;
                var received = entry[(space + 1)..].TrimStart();
                int end = received.IndexOfAny(' ', '\t');
                if (end >= 0) received = received[..end];
                if (received.Equals(name, StringComparison.OrdinalIgnoreCase)) return true;
            }
        }
        return false;
    }
}
