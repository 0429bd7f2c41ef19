using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 6. Fetch: the request goes to the origin (directly or through a parent, src/Node/Proxy/Upstream). With a stale entry
/// that has validators and a fill to refresh it, it is a revalidation (RFC 9111 4.3.1). A successful unsafe
/// request invalidates what it may have changed (RFC 9111 4.4) before its client hears back. Then: unreachable →
/// origin failed; 5xx → stale may stand in; 304 to our validators → revalidated; anything else → store.
/// </summary>
public sealed class FetchStep(NodeSettings settings, OriginClient origin, UpstreamMessages upstream, UnsafeInvalidation invalidation,
    StaleOnError staleOnError, ILogger<FetchStep> logger)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var message = r.Upstream = upstream.Build(ctx, r.Target);
        r.Revalidating = r.Fill is not null && r.Stale is not null && UpstreamMessages.AddValidators(message, r.Stale);
        var timeout = r.OriginTimeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        timeout.CancelAfter(settings.Proxy.OriginTimeout);
        r.RequestTime = DateTimeOffset.UtcNow;
        HttpResponseMessage response;
        try
        {
            response = r.OriginResponse = await origin.SendAsync(message, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            if (ctx.RequestAborted.IsCancellationRequested) return Step.Done;
            var (status, text) = OriginClient.Describe(ex, r.Target.UpstreamUri, timedOut: ex is OperationCanceledException);
            // A stale must-revalidate entry may not stand in; a cache cut off from its origin answers 504 (RFC 9111 5.2.2.2).
            if (status == StatusCodes.Status502BadGateway && r.Stale is not null && (r.Stale.Flags & EntryFlags.MustRevalidate) != 0)
                (status, text) = (StatusCodes.Status504GatewayTimeout, $"the stored response must be revalidated, and {text}");
            logger.LogInformation("{Method} {Url}: {Status} {Message}", ctx.Request.Method, r.Target.UpstreamUri, status, text);
            r.OriginError = (status, text);
            return Step.OriginFailed;
        }

        r.ResponseTime = DateTimeOffset.UtcNow;
        r.Framing = BodyFraming.Of(response); // drops a Content-Length that chunked overrides
        var headers = r.ResponseHeaders = UpstreamMessages.ResponseHeaders(response);
        var originStatus = r.OriginStatus = (int)response.StatusCode;

        if (originStatus is >= 200 and < 400 && CacheMethods.IsUnsafe(ctx.Request.Method))
            await invalidation.InvalidateAsync(ctx, r.Target, headers); // its next request, on any node, must not get the old entry

        // The origin failed with 5xx: a stale entry may stand in.
        if (originStatus >= 500 && await staleOnError.TryServeAsync(r, originStatus)) return Step.Done;

        if (r.Revalidating && originStatus == StatusCodes.Status304NotModified)
        {
            // A 304 that names another representation freshens nothing (RFC 9111 4.3.4): ask again, unconditionally.
            if (!Validators.NotModifiedFreshens(r.Stale!.Headers, headers))
            {
                r.ReleaseOrigin();
                r.Stale = null;
                return Step.Fetch;
            }
            if (r.Owner is not null) return Step.Revalidated;
        }
        return Step.Store;
    }
}
