using System.Globalization;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Compression;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>The head of a response served from a stored entry: status, stored headers, our Age, Via and Cache-Status.</summary>
public sealed class StoredHead(NodeSettings settings, CompressionPolicy compression)
{
    private readonly string _via = "1.1 " + settings.Proxy.ViaName;

    public string CacheName { get; } = settings.Proxy.CacheName;
    public string Via => _via;

    /// <summary>Status and stored headers of an entry, with our Age, Via and Cache-Status.</summary>
    public void Write(HttpContext ctx, EntryHead head, TimeSpan age, string cacheStatus)
    {
        var response = ctx.Response;
        response.StatusCode = head.Status;
        if (head.ReasonPhrase is { } phrase) ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = phrase;
        var headers = response.Headers;
        var stored = head.Headers;
        for (int i = 0; i + 1 < stored.Length; i += 2)
        {
            var name = stored[i];
            // Age is recomputed; the length comes from what we actually hold.
            if (name.Equals(HeaderNames.Age, StringComparison.OrdinalIgnoreCase) ||
                name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            headers.Append(name, stored[i + 1]);
        }
        compression.AddVary(headers, head.Status, stored, head.BodyLength);
        headers.Age = ((long)Math.Max(0, age.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        headers.Append(HeaderNames.Via, _via);
        headers.Append("Cache-Status", cacheStatus);
    }

    /// <summary>Does the client's conditional GET/HEAD match the stored response (so a 304 answers it)?</summary>
    public static bool ClientHasFreshCopy(HttpContext ctx, EntryHead head)
    {
        var headers = ctx.Request.Headers;
        if (headers.IfNoneMatch.Count == 0 && headers.IfModifiedSince.Count == 0) return false;
        if (head.Status != StatusCodes.Status200OK) return false;
        return Validators.NotModified(head.Headers, headers.IfNoneMatch, headers.IfModifiedSince.Count > 0 ? headers.IfModifiedSince.ToString() : null,
            DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs));
    }

    /// <summary>A 304 for a client whose copy is current, with the stored headers a 304 carries (RFC 9110 15.4.5).</summary>
    public void WriteNotModified(HttpContext ctx, EntryHead head, TimeSpan age, string cacheStatus)
    {
        var response = ctx.Response;
        response.StatusCode = StatusCodes.Status304NotModified;
        var stored = head.Headers;
        for (int i = 0; i + 1 < stored.Length; i += 2)
            if (Validators.BelongsIn304(stored[i])) response.Headers.Append(stored[i], stored[i + 1]);
        compression.AddVary(response.Headers, head.Status, stored, head.BodyLength);
        response.Headers.Age = ((long)Math.Max(0, age.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        response.Headers.Append(HeaderNames.Via, _via);
        response.Headers.Append("Cache-Status", cacheStatus);
    }

    /// <summary>With Proxy:DebugHeaders, which node answered and which owns the entry.</summary>
    public void AddDebugHeaders(HttpContext ctx, string? owner)
    {
        if (!settings.Proxy.DebugHeaders) return;
        ctx.Response.Headers["X-Cache-Node"] = settings.NodeName;
        if (owner is not null) ctx.Response.Headers["X-Cache-Owner"] = owner;
    }
}
