using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>
/// Invalidation (RFC 9111 4.4), serving stale (RFC 5861, RFC 9111 4.2.4), HEAD and Range from stored responses
/// (RFC 9110 9.3.2, 14; RFC 9111 3.3-3.4).
/// </summary>
public sealed class RequestPathConformanceTests(SingleNode host) : IClassFixture<SingleNode>
{
    private const double Stale = 2.2;

    private static IEnumerable<ConformanceCase> Invalidation(string method) =>
    [
        new($"invalidate-{method}", "RFC 9111 4.4", $"a successful {method} invalidates the URL",
            new Step { Origin = Fresh() },
            new Step { Method = method, RequestBody = "abc", Origin = R() },
            new Step { Origin = Fresh(), Expect = Expect.NotCached, Body = "body-3" }),
        new($"invalidate-{method}-failed-keeps", "RFC 9111 4.4", $"a failed {method} does not invalidate",
            new Step { Origin = Fresh() },
            new Step { Method = method, RequestBody = "abc", Origin = R(500), Status = 500 },
            new Step { Expect = Expect.Cached, Body = "body-1" }),
        new($"invalidate-{method}-location", "RFC 9111 4.4", $"a successful {method} invalidates its same-origin Location",
            new Step { Target = "loc", Origin = Fresh() },
            new Step { Method = method, RequestBody = "abc", Origin = R(H("Location", "{base}-loc")) },
            new Step { Target = "loc", Origin = Fresh(), Expect = Expect.NotCached }),
        new($"invalidate-{method}-content-location", "RFC 9111 4.4", $"a successful {method} invalidates its same-origin Content-Location",
            new Step { Target = "cloc", Origin = Fresh() },
            new Step { Method = method, RequestBody = "abc", Origin = R(H("Content-Location", "{base}-cloc")) },
            new Step { Target = "cloc", Origin = Fresh(), Expect = Expect.NotCached }),
    ];

    public static TheoryData<ConformanceCase> Cases()
    {
        var d = new TheoryData<ConformanceCase>();
        foreach (var m in new[] { "POST", "PUT", "DELETE", "PATCH", "M-SEARCH" })
            foreach (var c in Invalidation(m)) d.Add(c);
        foreach (var c in Others()) d.Add(c);
        return d;
    }

    private static IEnumerable<ConformanceCase> Others() =>
    [
        new("invalidate-relative-location", "RFC 9111 4.4", "a relative Location is resolved against the request URL",
            new Step { Target = "rel", Origin = Fresh() },
            new Step { Method = "POST", RequestBody = "abc", Origin = R(H("Location", "{name}-rel")) },
            new Step { Target = "rel", Origin = Fresh(), Expect = Expect.NotCached }),
        new("invalidate-other-origin-location-ignored", "RFC 9111 4.4", "a Location on another origin is not invalidated",
            new Step { Host = "localhost", Target = "far", Origin = Fresh() },
            new Step { Method = "POST", RequestBody = "abc", Origin = R(H("Location", "http://localhost:{port}{base}-far")) },
            new Step { Host = "localhost", Target = "far", Expect = Expect.Cached, Body = "body-1" }),
        new("get-does-not-invalidate", "RFC 9111 4.4", "a safe method does not invalidate",
            new Step { Origin = Fresh() },
            new Step { Method = "OPTIONS", Origin = R() },
            new Step { Expect = Expect.Cached, Body = "body-1" }),

        // ---- stale-while-revalidate / stale-if-error (RFC 5861) ----
        new("stale-while-revalidate", "RFC 5861 3", "a stale entry within stale-while-revalidate is served at once and refreshed in the background",
            new Step { Origin = R(H("Cache-Control", "max-age=1, stale-while-revalidate=3600"), H("ETag", "\"abc\"")), PauseAfterSeconds = Stale },
            new Step { Origin = R(H("Cache-Control", "max-age=3600"), H("ETag", "\"def\"")), Expect = Expect.Cached, Headers = [("ETag", "\"abc\"")], Body = "body-1",
                PauseAfterSeconds = 3, RevalidatesInBackground = true },
            new Step { Expect = Expect.Cached, Headers = [("ETag", "\"def\"")], Body = "body-2" }),
        new("stale-while-revalidate-expired", "RFC 5861 3", "beyond the stale-while-revalidate window the request waits for the origin",
            new Step { Origin = R(H("Cache-Control", "max-age=1, stale-while-revalidate=1")), PauseAfterSeconds = 3.2 },
            new Step { Origin = R(H("Cache-Control", "max-age=3600")), Expect = Expect.NotCached, Body = "body-2" }),
        new("stale-if-error-response", "RFC 5861 4", "response stale-if-error serves the stale entry when the origin fails",
            new Step { Origin = R(H("Cache-Control", "max-age=1, stale-if-error=3600")), PauseAfterSeconds = Stale },
            new Step { Origin = R(500), Expect = Expect.NotCached, Status = 200, Body = "body-1" }),
        new("stale-if-error-max-age-0", "RFC 5861 4", "a max-age=0 response with stale-if-error is kept for errors",
            new Step { Origin = R(H("Cache-Control", "max-age=0, stale-if-error=3600")) },
            new Step { Origin = R(500), Expect = Expect.NotCached, Status = 200, Body = "body-1" }),
        new("stale-if-error-response-expired", "RFC 5861 4", "after the stale-if-error window the error is passed on",
            new Step { Origin = R(H("Cache-Control", "max-age=1, stale-if-error=1")), PauseAfterSeconds = 3.2 },
            new Step { Origin = R(500), Expect = Expect.NotCached, Status = 500 }),
        new("stale-if-error-request", "RFC 5861 4", "request stale-if-error serves the stale entry when the origin fails",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"e\"")), PauseAfterSeconds = Stale },
            new Step { Request = [("Cache-Control", "stale-if-error=3600")], Origin = R(500), Expect = Expect.NotCached, Status = 200, Body = "body-1" }),
        new("stale-if-error-request-expired", "RFC 5861 4", "after the request's stale-if-error window the error is passed on",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"e\"")), PauseAfterSeconds = 3.2 },
            new Step { Request = [("Cache-Control", "stale-if-error=1")], Origin = R(500), Expect = Expect.NotCached, Status = 500 }),
        new("stale-if-error-must-revalidate", "RFC 9111 5.2.2.2", "must-revalidate forbids serving stale on error",
            new Step { Origin = R(H("Cache-Control", "max-age=1, must-revalidate, stale-if-error=3600")), PauseAfterSeconds = Stale },
            new Step { Origin = R(500), Expect = Expect.NotCached, Status = 500 }),
        new("stale-not-served-without-permission", "RFC 9111 4.2.4", "an origin error is passed on when nothing allows stale",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"e\"")), PauseAfterSeconds = Stale },
            new Step { Origin = R(503), Expect = Expect.NotCached, Status = 503 }),

        // ---- HEAD (RFC 9110 9.3.2, RFC 9111 4) ----
        new("head-from-stored-get", "RFC 9110 9.3.2", "HEAD is answered from a stored GET response",
            new Step { Origin = Fresh(H("Test-Header", "t")) },
            new Step { Method = "HEAD", Expect = Expect.Cached, Status = 200, Body = "", Headers = [("Test-Header", "t"), ("Content-Length", "6")] }),
        new("head-miss-forwarded", "RFC 9110 9.3.2", "HEAD with nothing stored goes to the origin and does not store a body-less GET answer",
            new Step { Method = "HEAD", Origin = Fresh(), Expect = Expect.NotCached, Status = 200 },
            new Step { Origin = Fresh(), Expect = Expect.NotCached, Body = "body-2" }),

        // ---- Range (RFC 9110 14, RFC 9111 3.3-3.4) ----
        RangeCase("range-first-bytes", "bytes=0-1", 206, "01"),
        RangeCase("range-open-end", "bytes=1-", 206, "1234567890"),
        RangeCase("range-suffix", "bytes=-1", 206, "0"),
        RangeCase("range-unsatisfiable", "bytes=100-", 416, ""),
        new("range-multiple", "RFC 9110 14.6", "several ranges are answered as multipart/byteranges",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600")] } },
            new Step { Request = [("Range", "bytes=0-1, 4-5")], Expect = Expect.Cached, Status = 206,
                Check = r => r.Content.Headers.ContentType?.MediaType == "multipart/byteranges" ? null : $"Content-Type {r.Content.Headers.ContentType}" }),
        new("if-range-etag-match", "RFC 9110 13.1.5", "If-Range with the current ETag gets the range",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"r\"")] } },
            new Step { Request = [("Range", "bytes=0-1"), ("If-Range", "\"r\"")], Expect = Expect.Cached, Status = 206, Body = "01" }),
        new("if-range-etag-mismatch", "RFC 9110 13.1.5", "If-Range with another ETag gets the whole 200",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"r\"")] } },
            new Step { Request = [("Range", "bytes=0-1"), ("If-Range", "\"old\"")], Expect = Expect.Cached, Status = 200, Body = "01234567890" }),
        new("if-range-date-match", "RFC 9110 13.1.5", "If-Range with the stored (strong) Last-Modified gets the range",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600"), H("Last-Modified", "Wed, 01 Jan 2020 00:00:00 GMT"), D("Date", 0)] } },
            new Step { Request = [("Range", "bytes=0-1"), ("If-Range", "Wed, 01 Jan 2020 00:00:00 GMT")], Expect = Expect.Cached, Status = 206, Body = "01" }),
        new("if-range-date-mismatch", "RFC 9110 13.1.5", "If-Range with another date gets the whole 200",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600"), H("Last-Modified", "Wed, 01 Jan 2020 00:00:00 GMT"), D("Date", 0)] } },
            new Step { Request = [("Range", "bytes=0-1"), ("If-Range", "Tue, 31 Dec 2019 00:00:00 GMT")], Expect = Expect.Cached, Status = 200, Body = "01234567890" }),
        new("range-on-head-ignored", "RFC 9110 14.2", "Range on HEAD is ignored: full headers, 200",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600")] } },
            new Step { Method = "HEAD", Request = [("Range", "bytes=0-1")], Expect = Expect.Cached, Status = 200, Headers = [("Content-Length", "11")] }),
        new("partial-never-served-whole", "RFC 9111 3.3", "a stored or forwarded 206 never answers a request without Range",
            new Step { Request = [("Range", "bytes=0-4")], Origin = new ScriptedResponse { Status = 206, Body = "01234",
                Headers = [H("Cache-Control", "max-age=3600"), H("Content-Range", "bytes 0-4/10")] }, Status = 206 },
            new Step { Origin = new ScriptedResponse { Body = "0123456789", Headers = [H("Cache-Control", "max-age=3600")] }, Status = 200, Body = "0123456789" }),
    ];

    private static ConformanceCase RangeCase(string id, string range, int status, string body) =>
        new(id, "RFC 9110 14.2", $"Range {range} from a complete stored response",
            new Step { Origin = new ScriptedResponse { Body = "01234567890", Headers = [H("Cache-Control", "max-age=3600")] } },
            new Step { Request = [("Range", range)], Expect = Expect.Cached, Status = status, Body = body });

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => host.RunAsync(c);
}
