using System.Globalization;
using System.Net;
using System.Text;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 1′. HTTP PURGE (Squid, Varnish): removes the request URL and its variants cluster-wide, or a prefix, or
/// surrogate keys (<see cref="PurgeForm"/>), with the same machinery as the management API's Purge. Only clients
/// in Access:PurgeFrom (default: loopback) may purge; the access rules were checked before (RequestAdmission).
/// Answers 200 with the count (also in X-Purged), 404 when nothing was cached; never forwarded, never cached.
/// </summary>
public sealed class PurgeStep(NodeSettings settings, ClusterPurge purge, ILogger<PurgeStep> logger)
{
    public const string Method = "PURGE";
    public const string CountHeader = "X-Purged";

    public static bool IsPurge(string method) => string.Equals(method, Method, StringComparison.OrdinalIgnoreCase);

    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var cacheName = settings.Proxy.CacheName;
        var client = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();
        if (!settings.Policy.PurgeFrom.Any(n => n.Contains(client)))
        {
            logger.LogWarning("Refused PURGE {Target} from {Client}: not in Access:PurgeFrom",
                ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget, client);
            await r.FailAsync(StatusCodes.Status403Forbidden, $"PURGE is not allowed from {client} (allowed: Access:PurgeFrom)",
                new Answer(AnsweredBy.PurgeRefused, Detail: "purge-denied"), cacheName);
            return Step.Done;
        }
        if (!RequestTarget.TryParse(ctx, settings.Proxy, out var target, out var error)
            || !PurgeForm.TryRead(ctx.Request.Headers, target.CacheKey, out var form, out error))
        {
            await r.FailAsync(StatusCodes.Status400BadRequest, error, new Answer(AnsweredBy.BadRequest), cacheName);
            return Step.Done;
        }
        r.UrlTarget = r.Target = target;

        long purged = 0;
        var failed = new List<string>();
        try
        {
            foreach (var value in form.Values)
            {
                var result = form.Kind == PurgeKind.Url
                    ? await purge.UrlAsync(value, ctx.RequestAborted)
                    : await purge.MatchAsync(new PurgeMatch(form.Kind, value), ctx.RequestAborted);
                purged += result.Purged;
                failed.AddRange(result.Nodes.Where(n => n.Error is not null).Select(n => $"{n.Node} ({n.Error})"));
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ctx.RequestAborted.IsCancellationRequested)
        {
            // The URL's owner could not be reached: nothing is confirmed, the client should retry.
            failed.Add(ex.Message);
        }
        var what = Describe(form);
        if (failed.Count > 0)
        {
            ctx.Response.OnStarting(() => { ctx.Response.Headers[CountHeader] = purged.ToString(CultureInfo.InvariantCulture); return Task.CompletedTask; });
            await r.FailAsync(StatusCodes.Status503ServiceUnavailable,
                $"purged {purged} object(s) of {what}, but not every node confirmed: {string.Join("; ", failed.Distinct().Take(8))}; retry",
                new Answer(AnsweredBy.Purged, Detail: "purge-incomplete"), cacheName);
            return Step.Done;
        }
        await WriteAsync(r, purged, what, cacheName);
        return Step.Done;
    }

    private static async Task WriteAsync(ProxyRequest r, long purged, string what, string cacheName)
    {
        var response = r.Context.Response;
        int status = purged > 0 ? StatusCodes.Status200OK : StatusCodes.Status404NotFound;
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        response.Headers[CountHeader] = purged.ToString(CultureInfo.InvariantCulture);
        response.Headers["Cache-Status"] = r.Answered(new Answer(AnsweredBy.Purged, Detail: purged > 0 ? "purged" : "purge-not-cached"), cacheName);
        var body = Encoding.UTF8.GetBytes(purged > 0 ? $"purged {purged} object(s): {what}\n" : $"not cached: {what}\n");
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, r.Context.RequestAborted);
    }

    private static string Describe(PurgeForm form) => form.Kind switch
    {
        PurgeKind.Url => form.Values[0],
        PurgeKind.Prefix => $"URLs starting with {form.Values[0]}",
        _ => $"surrogate key(s) {string.Join(' ', form.Values)}",
    };
}
