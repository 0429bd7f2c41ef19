using System.Text;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Proxy;

/// <summary>Short plain-text error responses that tell the user what happened and whose fault it was.</summary>
public static class ProxyErrors
{
    /// <summary>
    /// Writes the error and records its outcome for stats and the access log: <paramref name="outcome"/> when the
    /// request path knows better, else a refusal (403, 407) or an error. A 403/407/429 the proxy writes is its own
    /// refusal, counted by <paramref name="refused"/> (the reason the caller knows; by status when it does not say).
    /// </summary>
    public static Task WriteAsync(HttpContext ctx, int status, string message, string? cacheStatus = null, RequestOutcome? outcome = null,
        string? squidCode = null, RejectionReason? refused = null)
    {
        if (ctx.Response.HasStarted)
        {
            // Too late for a status: cut the connection so the client cannot mistake a partial body for a whole one.
            if (ctx.Features.Get<ProxyRequestInfo>() is { } info) info.ClosedByProxy = true; // not the client's doing (access log)
            ctx.Abort();
            return Task.CompletedTask;
        }
        ctx.Response.Clear();
        ProxyRequestInfo.SetOutcome(ctx, outcome ?? (status is 403 or 407 ? RequestOutcome.Denied : RequestOutcome.Error), squidCode);
        if (ctx.Features.Get<ProxyRequestInfo>() is { } refusal)
            refusal.Rejection = refused ?? status switch { 407 => RejectionReason.Auth, 429 => RejectionReason.Rate, 403 => RejectionReason.Other, _ => null };
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        ctx.Response.Headers.CacheControl = "no-store";
        if (cacheStatus is not null) ctx.Response.Headers["Cache-Status"] = cacheStatus;
        var body = Encoding.UTF8.GetBytes($"{status} {ReasonPhrase(status)}: {message}\n");
        ctx.Response.ContentLength = body.Length;
        return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : ctx.Response.Body.WriteAsync(body).AsTask();
    }

    public static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } p ? p : "Error";
}
