using System.Text;
using CacheCluster.Management.V1;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management;
using Google.Protobuf;
using Grpc.Core;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// The web dashboard on the management port: static files under /ui/, the management API as JSON under
/// /ui/api/&lt;method&gt; (the gRPC service itself, called in-process, so validation and answers are the
/// same as cachectl's), and the live feed as server-sent events at /ui/api/events. Every /ui/api call needs
/// the management token (Authorization: Bearer) when one is set; the static files hold no data.
/// </summary>
public static class DashboardEndpoints
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    /// <summary>The API methods the dashboard may call, with their request parsers.</summary>
    private static readonly Dictionary<string, (MessageParser Request, Func<ManagementService, IMessage, ServerCallContext, Task<IMessage>> Call)> Methods = new(StringComparer.Ordinal)
    {
        ["GetClusterStatus"] = (ClusterStatusRequest.Parser, async (s, r, c) => await s.GetClusterStatus((ClusterStatusRequest)r, c)),
        ["GetStats"] = (StatsRequest.Parser, async (s, r, c) => await s.GetStats((StatsRequest)r, c)),
        ["Purge"] = (PurgeRequest.Parser, async (s, r, c) => await s.Purge((PurgeRequest)r, c)),
        ["Inspect"] = (InspectRequest.Parser, async (s, r, c) => await s.Inspect((InspectRequest)r, c)),
        ["Drain"] = (DrainRequest.Parser, async (s, r, c) => await s.Drain((DrainRequest)r, c)),
        ["GetPolicy"] = (GetPolicyRequest.Parser, async (s, r, c) => await s.GetPolicy((GetPolicyRequest)r, c)),
        ["SetPolicy"] = (SetPolicyRequest.Parser, async (s, r, c) => await s.SetPolicy((SetPolicyRequest)r, c)),
        ["GetTop"] = (TopRequest.Parser, async (s, r, c) => await s.GetTop((TopRequest)r, c)),
    };

    public static void Map(IEndpointRouteBuilder e)
    {
        // "/ui" matches too: redirected to "/ui/" so the page's relative links resolve under it.
        e.MapGet("/ui/{*file}", (string? file, HttpContext ctx) =>
            ctx.Request.Path.Value == "/ui" ? Results.Redirect("/ui/") : DashboardFiles.Serve(ctx, file));
        e.MapGet("/ui/api/events", Events);
        e.MapPost("/ui/api/{method}", Call);
    }

    /// <summary>Null when the request may go on; else the 401 that refuses it.</summary>
    private static IResult? Refused(HttpContext ctx)
    {
        var settings = ctx.RequestServices.GetRequiredService<NodeSettings>();
        byte[]? token = settings.Management.Token is { } t ? Encoding.UTF8.GetBytes(t) : null;
        return BearerToken.Check(token, ctx.Request.Headers.Authorization) switch
        {
            BearerToken.Result.Ok => null,
            BearerToken.Result.Missing => Problem(StatusCodes.Status401Unauthorized, "this management API needs a token (Management:Token)"),
            _ => Problem(StatusCodes.Status401Unauthorized, "the management token is wrong (compare with the node's Management:Token / Management:TokenFile)"),
        };
    }

    private static IResult Problem(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    private static async Task<IResult> Call(string method, HttpContext ctx)
    {
        if (Refused(ctx) is { } refused) return refused;
        if (!Methods.TryGetValue(method, out var m)) return Problem(StatusCodes.Status404NotFound, $"no API method '{method}' (known: {string.Join(", ", Methods.Keys)})");
        IMessage request;
        try
        {
            using var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8);
            var body = await ReadBoundedAsync(reader, InputLimits.MaxMessageBytes, ctx.RequestAborted);
            request = body.Length == 0 ? m.Request.ParseFrom(ByteString.Empty) : m.Request.ParseJson(body);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidDataException)
        {
            return Problem(StatusCodes.Status400BadRequest, $"the request body is not a valid {method} request: {ex.Message}");
        }
        var service = ActivatorUtilities.CreateInstance<ManagementService>(ctx.RequestServices);
        try
        {
            var reply = await m.Call(service, request, new LocalCallContext(method, ctx.RequestAborted));
            return Results.Text(Formatter.Format(reply), "application/json; charset=utf-8");
        }
        catch (RpcException ex)
        {
            return Problem(ex.StatusCode switch
            {
                StatusCode.InvalidArgument => StatusCodes.Status400BadRequest,
                StatusCode.NotFound => StatusCodes.Status404NotFound,
                StatusCode.FailedPrecondition => StatusCodes.Status409Conflict,
                StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
                StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
                _ => StatusCodes.Status500InternalServerError,
            }, ex.Status.Detail);
        }
    }

    private static async Task<string> ReadBoundedAsync(StreamReader reader, int maxChars, CancellationToken ct)
    {
        var buffer = new char[maxChars + 1];
        int read = 0, n;
        while (read < buffer.Length && (n = await reader.ReadAsync(buffer.AsMemory(read), ct)) > 0) read += n;
        if (read > maxChars) throw new InvalidDataException($"it is larger than {maxChars} characters");
        return new string(buffer, 0, read);
    }

    /// <summary>Server-sent events: "history" (the samples so far) once, then one "sample" a second.</summary>
    private static async Task Events(HttpContext ctx, DashboardFeed feed)
    {
        if (Refused(ctx) is { } refused) { await refused.ExecuteAsync(ctx); return; }
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-store";
        ctx.Response.Headers["X-Accel-Buffering"] = "no";
        var ct = ctx.RequestAborted;
        try
        {
            await foreach (var (name, data) in feed.SubscribeAsync(ct))
            {
                await ctx.Response.WriteAsync($"event: {name}\ndata: {data}\n\n", ct);
                await ctx.Response.Body.FlushAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }
}
