using System.Diagnostics;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Policy;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// Wraps the proxy pipeline: when a request has been answered (its response fully sent), counts it by the
/// outcome the request path recorded and its bytes to the client, and hands it to the access log.
/// </summary>
public sealed class StatsMiddleware(ProxyCounters counters, RequestFigures figures, TopUrls top, AccessLogWriter accessLog, LiveAccessLog live, RecentDenials denials)
{
    /// <summary>The request's feature and its bookkeeping in one allocation.</summary>
    private sealed class Request : ProxyRequestInfo
    {
        public required HttpContext Context;
        public required long Started;
        public required long BytesBefore;
        public required ConnectionBytes? Bytes;
        public required StatsMiddleware Middleware;
        public Activity? Span; // with tracing on only
        // Set from the synchronous middleware, so it stays on the connection's flow until the next request replaces it.
        public void MakeCurrent() => Current = this;
    }

    private static readonly Func<object, Task> OnCompleted = state =>
    {
        var r = (Request)state;
        r.Middleware.Finish(r);
        return Task.CompletedTask;
    };

    public Func<RequestDelegate, RequestDelegate> Middleware => next => ctx =>
    {
        var bytes = ctx.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ConnectionBytes.ItemKey, out var item) == true ? item as ConnectionBytes : null;
        var request = new Request
        {
            Context = ctx,
            Started = Stopwatch.GetTimestamp(),
            BytesBefore = bytes?.Written ?? 0,
            Bytes = bytes,
            Middleware = this,
        };
        ctx.Features.Set<ProxyRequestInfo>(request);
        request.MakeCurrent(); // flows into the origin client, which notes the server it reached
        figures.Started(HttpMethods.IsConnect(ctx.Request.Method));
        ctx.Response.OnCompleted(OnCompleted, request);
        return NodeTracing.On ? TracedAsync(request, next) : next(ctx);
    };

    /// <summary>The request's span, current for everything it calls (async: the caller's Activity.Current stays as it was).</summary>
    private static async Task TracedAsync(Request request, RequestDelegate next)
    {
        var ctx = request.Context;
        request.Span = NodeTracing.Source.StartActivity(ctx.Request.Method, ActivityKind.Server);
        request.Span?.SetTag("http.request.method", ctx.Request.Method);
        await next(ctx);
    }

    private void Finish(Request r)
    {
        var ctx = r.Context;
        // A tunnel answered 200 on the raw connection; Kestrel's own status for the request is not what the client saw.
        int status = r.TunnelEstablished ? 200 : ctx.Response.StatusCode;
        bool tunnel = HttpMethods.IsConnect(ctx.Request.Method);
        // Recorded by the step that answered (or by ProxyErrors); never read back from the Cache-Status text.
        var outcome = r.Outcome ?? OutcomeClassifier.Unrecorded(status, tunnel);
        long sent = r.Bytes is { } b ? b.Written - r.BytesBefore : ctx.Response.ContentLength ?? 0;
        counters.Count(outcome, sent);
        figures.Finished(outcome, status, r.Rejection, tunnel, Stopwatch.GetElapsedTime(r.Started));
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "/";
        var url = raw.StartsWith('/') ? $"http://{ctx.Request.Host}{raw}" : raw;
        if (r.Span is { } span) EndSpan(span, ctx, outcome, status, url);
        if (outcome == RequestOutcome.Denied) Denied(r, ctx, url);
        if (outcome != RequestOutcome.Denied) top.Count(url, outcome is RequestOutcome.Hit or RequestOutcome.Stale, sent); // refusals (scans) are not "hot"
        // Nobody reads records (no file, no live watcher): none is built.
        if (!accessLog.Enabled && !live.Watched) return;
        // Squid's _ABORTED: the client went away before its answer was complete (not a connection the proxy cut).
        bool aborted = ctx.RequestAborted.IsCancellationRequested && !r.ClosedByProxy
            && !(ctx.Response.ContentLength is long length && sent >= length);
        // A bumped CONNECT is logged as Squid logs one (NONE_NONE/200): its requests get lines of their own, with https:// URLs.
        var code = r.TunnelEstablished ? (r.Bumped ? "NONE_NONE" : "TCP_TUNNEL") : r.SquidCode ?? SquidCodes.Unrecorded(outcome, tunnel, status);
        // Answers from the cache asked nothing upstream (a background revalidation may have, for later requests).
        var hop = code.Contains("HIT", StringComparison.Ordinal) || outcome == RequestOutcome.Denied ? UpstreamHop.None : r.Hop;
        var client = ClientOf(ctx);
        var record = new AccessRecord(
            DateTimeOffset.UtcNow, // Squid logs a request when it completes
            Stopwatch.GetElapsedTime(r.Started),
            client,
            outcome,
            aborted ? code + "_ABORTED" : code,
            aborted && !ctx.Response.HasStarted ? 0 : status, // Squid's /000: no reply was sent
            sent,
            ctx.Request.Method,
            url,
            ctx.Request.Protocol,
            r.User ?? ctx.Features.Get<IProxyUserFeature>()?.User, // set by proxy authentication
            SquidCodes.Hierarchy(hop),
            hop == UpstreamHop.None ? null : r.Peer?.ToString(),
            r.Owner,
            ctx.Response.Headers["Cache-Status"] is { Count: > 0 } cs ? cs[cs.Count - 1] : null, // logged as sent
            ctx.Response.ContentType,
            ctx.Request.Headers.Referer.Count > 0 ? ctx.Request.Headers.Referer.ToString() : null,
            ctx.Request.Headers.UserAgent.Count > 0 ? ctx.Request.Headers.UserAgent.ToString() : null,
            r.Bumped);
        accessLog.Write(record);
        if (live.Watched) live.Publish(record);
    }

    private void Denied(Request r, HttpContext ctx, string url)
    {
        int q = url.IndexOf('?'); // no query terms (tokens) on the dashboard
        var reason = r.Rejection is { } why ? (why == RejectionReason.ConnectPort ? "connect-port" : why.ToString().ToLowerInvariant()) : "other";
        denials.Add(new Contracts.Management.DenialRecord(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ClientOf(ctx), q < 0 ? url : url[..(q + 1)], reason, r.DeniedByRule));
    }

    private static string ClientOf(HttpContext ctx) => ctx.Connection.RemoteIpAddress is { } ip ? PeerAddresses.Normalise(ip).ToString() : "-";

    private static void EndSpan(Activity span, HttpContext ctx, RequestOutcome outcome, int status, string url)
    {
        int q = url.IndexOf('?'); // query terms may carry tokens: traces get none (as the access log by default)
        span.SetTag("url.full", q < 0 ? url : url[..(q + 1)]);
        span.SetTag("http.response.status_code", status);
        span.SetTag("client.address", ClientOf(ctx));
        span.SetTag("cachecluster.outcome", outcome.ToString().ToLowerInvariant());
        if (outcome == RequestOutcome.Error) span.SetStatus(ActivityStatusCode.Error);
        span.Stop();
    }
}
