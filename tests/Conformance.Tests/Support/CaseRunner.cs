using System.Globalization;
using System.Text;
using CacheCluster.TestOrigin;

namespace CacheCluster.Conformance.Tests.Support;

/// <summary>
/// Runs a <see cref="ConformanceCase"/>: registers one origin script per URL of the case, sends each step through
/// the node(s) as a proxy (step i through client i % clients), and checks what the client got and what the
/// origin saw. All failures of a case are reported together.
/// </summary>
public static class CaseRunner
{
    public static async Task RunAsync(ConformanceCase c, OriginServer origin, params HttpClient[] clients)
    {
        var name = c.Id + "-" + Guid.NewGuid().ToString("N")[..10];
        var mainPath = "/scripted/" + name;
        string PathOf(string target) => target.Length == 0 ? mainPath : mainPath + "-" + target;

        // One script per URL: response i answers the request that carries X-Step: i+1.
        foreach (var target in c.Steps.Select(s => s.Target).Distinct())
        {
            var responses = c.Steps.Select(s => Resolve(s.Origin, mainPath, origin.HttpBase.Port)).ToArray();
            origin.Script(PathOf(target)[("/scripted/".Length)..], responses);
        }

        var failures = new List<string>();
        for (int i = 0; i < c.Steps.Length; i++)
        {
            var step = c.Steps[i];
            var n = i + 1;
            var client = clients[step.Node % clients.Length];
            var path = PathOf(step.Target) + (step.Query is null ? "" : "?" + step.Query);
            var url = origin.Url(path);
            if (step.Host is not null) url = new UriBuilder(url) { Host = step.Host }.Uri;
            using var request = new HttpRequestMessage(new HttpMethod(step.Method), url);
            if (step.RequestBody is not null) request.Content = new StringContent(step.RequestBody, Encoding.UTF8, "text/plain");
            foreach (var group in step.Request.GroupBy(h => h.Name, StringComparer.OrdinalIgnoreCase))
            {
                var values = group.Select(h => h.Value).ToArray();
                if (!request.Headers.TryAddWithoutValidation(group.Key, values))
                    request.Content?.Headers.TryAddWithoutValidation(group.Key, values);
            }
            request.Headers.TryAddWithoutValidation("X-Step", n.ToString(CultureInfo.InvariantCulture));

            using var response = await client.SendAsync(request);
            // Content headers as received: reading the body as a string parses (and reformats) Content-Type.
            var received = Snapshot(response);
            var body = await response.Content.ReadAsStringAsync();
            var seen = origin.Requests.Where(r => PathOnly(r.PathAndQuery) == PathOf(step.Target) && r.Header("X-Step") == n.ToString(CultureInfo.InvariantCulture)).ToList();
            Check(failures, n, step, response, received, body, seen);
            if (step.PauseAfterSeconds > 0) await Task.Delay(TimeSpan.FromSeconds(step.PauseAfterSeconds));
        }
        if (failures.Count > 0)
            Assert.Fail($"{c.Id} ({c.Rfc}: {c.Title}):\n  " + string.Join("\n  ", failures));
    }

    private static void Check(List<string> failures, int n, Step step, HttpResponseMessage response,
        Dictionary<string, string> received, string body, List<RecordedRequest> seen)
    {
        string? Raw(HttpResponseMessage _, string name) => received.TryGetValue(name, out var v) ? v : null;
        var cacheStatus = Raw(response, "Cache-Status") ?? "(none)";
        void Fail(string what) => failures.Add($"step {n}: {what} [status {(int)response.StatusCode}, Cache-Status: {cacheStatus}]");

        switch (step.Expect)
        {
            case Expect.Cached when seen.Any(r => !(step.RevalidatesInBackground && (r.HasHeader("If-None-Match") || r.HasHeader("If-Modified-Since")))):
                Fail("expected a response from the cache, but the origin was asked"); break;
            case Expect.NotCached when seen.Count == 0: Fail("expected the origin to be asked, but the cache answered"); break;
            case Expect.EtagValidated when !seen.Any(r => r.HasHeader("If-None-Match")):
                Fail(seen.Count == 0 ? "expected a revalidation with If-None-Match, but the cache answered" : "the request to the origin carried no If-None-Match"); break;
            case Expect.LmValidated when !seen.Any(r => r.HasHeader("If-Modified-Since")):
                Fail(seen.Count == 0 ? "expected a revalidation with If-Modified-Since, but the cache answered" : "the request to the origin carried no If-Modified-Since"); break;
        }
        // RFC 9211: every response the cache gives carries its Cache-Status.
        if (Raw(response, "Cache-Status") is not { } cs || !cs.StartsWith("CacheCluster", StringComparison.Ordinal))
            Fail("no Cache-Status from this cache");
        if (step.Status is int status && (int)response.StatusCode != status) Fail($"status {(int)response.StatusCode}, expected {status}");
        if (step.Body is not null && body != step.Body) Fail($"body \"{Trunc(body)}\", expected \"{step.Body}\"");
        foreach (var (name, value) in step.Headers)
        {
            var actual = Raw(response, name);
            if (actual != value) Fail($"header {name} is {(actual is null ? "absent" : "\"" + actual + "\"")}, expected \"{value}\"");
        }
        foreach (var name in step.HeadersPresent)
            if (Raw(response, name) is null) Fail($"header {name} is absent");
        foreach (var name in step.HeadersMissing)
            if (Raw(response, name) is { } v) Fail($"header {name} should be absent but is \"{v}\"");
        foreach (var (name, value) in step.OriginSaw)
        {
            if (seen.Count == 0) { Fail($"origin should have received {name}, but got no request"); continue; }
            var got = seen[^1].Header(name);
            if (got is null) Fail($"origin request had no {name}");
            else if (value is not null && got != value) Fail($"origin request had {name}: \"{got}\", expected \"{value}\"");
        }
        foreach (var name in step.OriginDidNotSee)
            if (seen.Count > 0 && seen[^1].Header(name) is { } got) Fail($"origin request should not carry {name} but had \"{got}\"");
        if (step.Check?.Invoke(response) is { } message) Fail(message);
    }

    private static ScriptedResponse Resolve(ScriptedResponse r, string mainPath, int port) =>
        r.Headers.Any(h => h.Value?.Contains('{') == true)
            ? new ScriptedResponse
            {
                Status = r.Status, Reason = r.Reason, Body = r.Body, DelayMs = r.DelayMs, NotModifiedIfConditional = r.NotModifiedIfConditional,
                Headers = [.. r.Headers.Select(h => h with { Value = h.Value?.Replace("{base}", mainPath).Replace("{name}", mainPath[(mainPath.LastIndexOf('/') + 1)..]).Replace("{port}", port.ToString(CultureInfo.InvariantCulture)) })],
            }
            : r;

    /// <summary>The response headers exactly as received (comma-joined), before the body is read.</summary>
    private static Dictionary<string, string> Snapshot(HttpResponseMessage r)
    {
        var all = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in r.Headers.NonValidated) all[name] = string.Join(", ", values);
        foreach (var (name, values) in r.Content.Headers.NonValidated) all[name] = string.Join(", ", values);
        return all;
    }

    private static string PathOnly(string pathAndQuery) => pathAndQuery.Split('?')[0];

    private static string Trunc(string s) => s.Length > 60 ? s[..60] + "…" : s;
}
