using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.TestOrigin;

/// <summary>
/// One response header of a script: a literal value, or an HTTP-date computed when the response is sent
/// (<see cref="RelativeSeconds"/> from now, e.g. <c>Date: now</c>, <c>Expires: now + 3600</c>).
/// </summary>
public sealed record ScriptedHeader(string Name, string? Value, int? RelativeSeconds = null)
{
    public string Render(DateTimeOffset now) =>
        RelativeSeconds is int s ? now.AddSeconds(s).ToString("r", CultureInfo.InvariantCulture) : Value ?? "";
}

/// <summary>What the origin answers to one request of a script.</summary>
public sealed class ScriptedResponse
{
    public int Status { get; init; } = 200;
    public string? Reason { get; init; }
    public List<ScriptedHeader> Headers { get; init; } = [];
    /// <summary>The body; null means <c>body-N</c> where N is the step the response answers.</summary>
    public string? Body { get; init; }
    /// <summary>
    /// Answer 304 (with <see cref="Headers"/>, no body) when the request is conditional and its If-None-Match /
    /// If-Modified-Since matches this response's ETag / Last-Modified; otherwise answer 500 with
    /// <c>X-Script-Error</c>, so a test sees at once that the cache did not revalidate.
    /// </summary>
    public bool NotModifiedIfConditional { get; init; }
    /// <summary>
    /// Answer 304 to any conditional request (If-None-Match or If-Modified-Since present, whatever its value),
    /// and this response to an unconditional one: an origin whose 304s may name another representation.
    /// </summary>
    public bool NotModifiedForAnyConditional { get; init; }
    /// <summary>Wait this long before answering (collapsing tests).</summary>
    public int DelayMs { get; init; }
}

/// <summary>
/// <c>/scripted/{name}</c>: per-request scripted responses. A test registers a script with
/// <see cref="OriginServer.Script"/>; the request carrying <c>X-Step: N</c> gets response N (1-based; the last one
/// when N is larger), a request without it (a cache's own background request) gets the response for its arrival
/// number. Every response carries <c>X-Served-Step: N</c>. Requests are recorded like every other endpoint's.
/// </summary>
internal static class ScriptedResponses
{
    public const string StepHeader = "X-Step";

    public static async Task HandleAsync(HttpContext context, OriginState state, string path)
    {
        var request = context.Request;
        var response = context.Response;
        var arrival = state.Scripts.Arrived(path);
        if (!state.Scripts.TryGet(path, out var script))
        {
            response.StatusCode = 404;
            response.ContentType = "text/plain";
            await response.WriteAsync("no script for " + path + "\n", context.RequestAborted).ConfigureAwait(false);
            state.ResponseCompleted();
            return;
        }
        var step = int.TryParse(request.Headers[StepHeader].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : arrival;
        var scripted = script[Math.Min(step, script.Count) - 1];
        if (scripted.DelayMs > 0) await Task.Delay(scripted.DelayMs, context.RequestAborted).ConfigureAwait(false);

        var now = DateTimeOffset.UtcNow;
        var status = scripted.Status;
        if (scripted.NotModifiedIfConditional)
            status = Matches(request, scripted, now) ? 304 : 500;
        else if (scripted.NotModifiedForAnyConditional && (request.Headers.IfNoneMatch.Count > 0 || request.Headers.IfModifiedSince.Count > 0))
            status = 304;
        response.StatusCode = status;
        if (scripted.Reason is not null && status == scripted.Status)
            context.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = scripted.Reason;
        if (status == 500 && scripted.NotModifiedIfConditional)
            response.Headers["X-Script-Error"] = "expected a conditional request matching the stored validators";
        long? declaredLength = null;
        foreach (var h in scripted.Headers)
        {
            var value = h.Render(now);
            if (h.Name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
            {
                declaredLength = long.Parse(value, CultureInfo.InvariantCulture);
                continue;
            }
            response.Headers.Append(h.Name, value);
        }
        response.Headers["X-Served-Step"] = step.ToString(CultureInfo.InvariantCulture);
        if (!response.Headers.ContainsKey(HeaderNames.ContentType) && status is not (204 or 304))
            response.ContentType = "text/plain";

        var body = status is 204 or 304 ? [] : Encoding.UTF8.GetBytes(scripted.Body ?? $"body-{step}");
        if (status is 204 or 304)
        {
            if (declaredLength is long l && status == 304) response.ContentLength = l;
        }
        else
        {
            response.ContentLength = declaredLength ?? body.Length;
            if (!HttpMethods.IsHead(request.Method))
                await response.Body.WriteAsync(body.AsMemory(0, (int)Math.Min(body.Length, response.ContentLength.Value)), context.RequestAborted).ConfigureAwait(false);
        }
        state.ResponseCompleted();
    }

    private static bool Matches(HttpRequest request, ScriptedResponse scripted, DateTimeOffset now)
    {
        string? etag = null, lastModified = null;
        foreach (var h in scripted.Headers)
        {
            if (h.Name.Equals(HeaderNames.ETag, StringComparison.OrdinalIgnoreCase)) etag = h.Render(now);
            if (h.Name.Equals(HeaderNames.LastModified, StringComparison.OrdinalIgnoreCase)) lastModified = h.Render(now);
        }
        var inm = request.Headers.IfNoneMatch.ToString();
        if (inm.Length > 0)
            return etag is not null && inm.Split(',', StringSplitOptions.TrimEntries).Any(t => Opaque(t) == Opaque(etag));
        var ims = request.Headers.IfModifiedSince.ToString();
        return ims.Length > 0 && lastModified is not null && ims == lastModified;

        static string Opaque(string tag) => tag.StartsWith("W/", StringComparison.Ordinal) ? tag[2..] : tag;
    }
}

/// <summary>The registered scripts and per-path arrival counters.</summary>
internal sealed class ScriptStore
{
    private readonly ConcurrentDictionary<string, IReadOnlyList<ScriptedResponse>> _scripts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _arrivals = new(StringComparer.Ordinal);

    public void Set(string path, IReadOnlyList<ScriptedResponse> responses)
    {
        if (responses.Count == 0) throw new ArgumentException("a script needs at least one response", nameof(responses));
        _scripts[path] = responses;
        _arrivals[path] = 0;
    }

    public bool TryGet(string path, out IReadOnlyList<ScriptedResponse> responses) => _scripts.TryGetValue(path, out responses!);

    public int Arrived(string path) => _arrivals.AddOrUpdate(path, 1, static (_, n) => n + 1);
}

internal sealed partial class OriginState
{
    public ScriptStore Scripts { get; } = new();
}

public sealed partial class OriginServer
{
    /// <summary>
    /// Registers the responses of <c>/scripted/{name}</c> (see <see cref="ScriptedResponses"/>) and returns its
    /// origin-form path, e.g. <c>/scripted/{name}</c>. Registering the same name again replaces the script.
    /// </summary>
    public string Script(string name, params ScriptedResponse[] responses)
    {
        var path = "/scripted/" + name;
        _state.Scripts.Set(path, responses);
        return path;
    }
}
