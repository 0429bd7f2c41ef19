using System.Net;
using System.Net.Http.Headers;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.FrontEnd.Hardening;
using CacheCluster.Node.Proxy.Upstream;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>The request sent to the origin, and the end-to-end headers taken from its response.</summary>
public sealed class UpstreamMessages(UpstreamHeaders upstreamHeaders)
{
    /// <summary>The client's request as the origin gets it: end-to-end headers, its body streamed, our Via.</summary>
    public HttpRequestMessage Build(HttpContext ctx, RequestTarget target)
    {
        var request = ctx.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), target.UpstreamUri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        var bodyDetection = ctx.Features.Get<IHttpRequestBodyDetectionFeature>();
        if (bodyDetection?.CanHaveBody == true)
        {
            message.Content = new StreamContent(new ClientBodyStream(request.Body), 64 * 1024);
        }
        var listed = HopByHop.ConnectionListed(request.Headers.Connection);
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Skip(name, listed) || name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
                || name.Equals(HeaderNames.Expect, StringComparison.OrdinalIgnoreCase)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
                message.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        if (target.HostOverride is not null) message.Headers.Host = target.HostOverride;
        upstreamHeaders.Apply(ctx, message); // Via, X-Forwarded-For, stripped headers (Privacy:*)
        return message;
    }

    /// <summary>
    /// The request a background revalidation (or the rest of a broken stored body) sends: the client's GET (same
    /// end-to-end headers, so the origin selects the same variant) without a body and without the client's
    /// conditionals and ranges. Built before the client's request ends, since its headers go with it.
    /// </summary>
    public HttpRequestMessage BuildBackground(HttpContext ctx, RequestTarget target)
    {
        var message = Build(ctx, target);
        message.Content = null;
        foreach (var name in (string[])[HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince, HeaderNames.IfMatch, HeaderNames.IfUnmodifiedSince,
                     HeaderNames.IfRange, HeaderNames.Range])
            message.Headers.Remove(name);
        return message;
    }

    /// <summary>Turns the upstream request into a revalidation of the stored entry (RFC 9111 4.3.1).</summary>
    public static bool AddValidators(HttpRequestMessage upstream, EntryHead stale)
    {
        var etag = HeaderPairs.Get(stale.Headers, HeaderNames.ETag);
        var lastModified = HeaderPairs.Get(stale.Headers, HeaderNames.LastModified);
        if (etag is null && lastModified is null) return false;
        // The client's own conditionals are about its copy, not ours: ours replace them.
        upstream.Headers.Remove(HeaderNames.IfNoneMatch);
        upstream.Headers.Remove(HeaderNames.IfModifiedSince);
        if (etag is not null) upstream.Headers.TryAddWithoutValidation(HeaderNames.IfNoneMatch, etag);
        if (lastModified is not null) upstream.Headers.TryAddWithoutValidation(HeaderNames.IfModifiedSince, lastModified);
        return true;
    }

    /// <summary>End-to-end response headers as flat pairs: what is forwarded and what is stored.</summary>
    public static string[] ResponseHeaders(HttpResponseMessage response)
    {
        HashSet<string>? listed = null;
        if (response.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
            listed = HopByHop.ConnectionListed(new StringValues([.. connection]));
        var pairs = new List<string>(32);
        Add(response.Headers.NonValidated, listed, pairs);
        Add(response.Content.Headers.NonValidated, listed, pairs);
        return [.. pairs];

        static void Add(HttpHeadersNonValidated headers, HashSet<string>? listed, List<string> pairs)
        {
            foreach (var (name, values) in headers)
            {
                if (HopByHop.Skip(name, listed) || name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
                foreach (var value in values)
                {
                    // Malformed origin headers (CR/LF, controls, 8-bit) are never passed on or stored.
                    if (!ResponseHeaderCheck.IsValid(name, value)) continue;
                    pairs.Add(name);
                    pairs.Add(value);
                }
            }
        }
    }
}
