using CacheCluster.Caching;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.Proxy;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// After a successful POST/PUT/DELETE/PATCH, the target URL and the same-origin URLs in Location and
/// Content-Location are invalidated (RFC 9111 4.4), cluster-wide through their owners.
/// </summary>
public sealed class UnsafeInvalidation(EntryOwners owners, HotEntries hot, ILogger<UnsafeInvalidation> logger)
{
    public async Task InvalidateAsync(HttpContext ctx, RequestTarget target, string[] responseHeaders)
    {
        var keys = new List<string> { target.CacheKey };
        foreach (var name in new[] { HeaderNames.Location, HeaderNames.ContentLocation })
        {
            var value = HeaderPairs.Get(responseHeaders, name);
            if (string.IsNullOrEmpty(value)) continue;
            var publicUri = new Uri(target.CacheKey);
            if (!Uri.TryCreate(publicUri, value, out var resolved)) continue;
            if (resolved.Scheme != publicUri.Scheme || !string.Equals(resolved.Authority, publicUri.Authority, StringComparison.OrdinalIgnoreCase)) continue;
            keys.Add(RequestTarget.KeyFor(resolved));
        }
        foreach (var key in keys.Distinct())
        {
            hot.Drop(key); // this node's copy at once; the owner tells the other nodes
            try { await owners.For(key).InvalidateAsync(); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex))
            {
                logger.LogWarning("Could not invalidate {Key} after {Method}: {Error}", key, ctx.Request.Method, ex.Message);
            }
        }
    }
}
