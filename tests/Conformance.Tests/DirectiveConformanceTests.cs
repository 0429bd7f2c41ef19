using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>
/// Response and request directives, storing rules, Pragma, Authorization, CDN-Cache-Control and the headers
/// a cache adds (RFC 9111 3, 5.1, 5.2, 5.4; RFC 9211; RFC 9213).
/// </summary>
public sealed class DirectiveConformanceTests(SingleNode host) : IClassFixture<SingleNode>
{
    private const double Stale = 2.2;

    private static ConformanceCase Two(string id, string rfc, string title, ScriptedResponse first, Step second, double pause = 0) =>
        new(id, rfc, title, new Step { Origin = first, PauseAfterSeconds = pause }, second with { Origin = second.Origin.Headers.Count == 0 ? first : second.Origin });

    private static readonly (string, string)[] Auth = [("Authorization", "Basic dXNlcjpwYXNz")];

    public static TheoryData<ConformanceCase> Cases() => new()
    {
        // ---- Response directives (RFC 9111 5.2.2) ----
        Two("private-not-stored", "RFC 9111 5.2.2.7", "a shared cache does not store private responses",
            R(H("Cache-Control", "private, max-age=3600")), new Step { Expect = Expect.NotCached }),
        Two("private-qualified-field-not-stored", "RFC 9111 5.2.2.7", "private=\"a\": stored without field a",
            R(H("Cache-Control", "private=\"a\", max-age=3600"), H("a", "1"), H("b", "2")),
            new Step { Expect = Expect.Cached, HeadersMissing = ["a"], Headers = [("b", "2")] }),
        Two("no-store", "RFC 9111 5.2.2.5", "no-store is not stored", R(H("Cache-Control", "no-store")), new Step { Expect = Expect.NotCached }),
        Two("no-store-mixed-case", "RFC 9111 5.2", "No-StOrE is no-store", R(H("Cache-Control", "No-StOrE")), new Step { Expect = Expect.NotCached }),
        Two("no-store-with-freshness", "RFC 9111 5.2.2.5", "no-store wins over max-age and Expires",
            R(H("Cache-Control", "max-age=10000, no-store"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        new ConformanceCase("no-store-keeps-older", "RFC 9111 3", "a newer no-store response does not replace the stored one",
            new Step { Origin = R(H("Cache-Control", "max-age=10000"), D("Date", 0), H("A", "1")) },
            new Step { Request = [("Cache-Control", "no-cache")], Origin = R(H("Cache-Control", "no-store"), D("Date", 0), H("A", "2")), Expect = Expect.NotCached, Headers = [("A", "2")] },
            new Step { Expect = Expect.Cached, Headers = [("A", "1")], Body = "body-1" }),
        Two("no-cache", "RFC 9111 5.2.2.4", "no-cache is never reused without revalidation",
            R(H("Cache-Control", "max-age=10000, no-cache"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("no-cache-mixed-case", "RFC 9111 5.2", "No-CaChE is no-cache",
            R(H("Cache-Control", "max-age=10000, No-CaChE"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("no-cache-revalidates", "RFC 9111 5.2.2.4", "a no-cache response with an ETag is stored and revalidated",
            R(H("Cache-Control", "no-cache"), H("ETag", "\"abcd\"")),
            new Step { Origin = new ScriptedResponse { NotModifiedIfConditional = true, Headers = [H("Cache-Control", "no-cache"), H("ETag", "\"abcd\"")] },
                Expect = Expect.EtagValidated, Status = 200, Body = "body-1" }),
        Two("no-cache-qualified-field", "RFC 9111 5.2.2.4", "no-cache=\"a\": the rest is reused, field a is not",
            R(H("Cache-Control", "no-cache=\"a\""), H("a", "1"), H("b", "2"), H("Cache-Control", "max-age=3600"), D("Date", 0)),
            new Step { Expect = Expect.Cached, HeadersMissing = ["a"], Headers = [("b", "2")] }),
        Two("no-cache-qualified-fields", "RFC 9111 5.2.2.4", "no-cache=\"a, b\": both fields withheld",
            R(H("Cache-Control", "no-cache=\"a, b\""), H("a", "1"), H("b", "2"), H("c", "3"), H("Cache-Control", "max-age=3600"), D("Date", 0)),
            new Step { Expect = Expect.Cached, HeadersMissing = ["a", "b"], Headers = [("c", "3")] }),
        new ConformanceCase("must-revalidate-stale", "RFC 9111 5.2.2.2", "a stale must-revalidate response is revalidated",
            new Step { Origin = R(H("Cache-Control", "max-age=3, must-revalidate"), H("ETag", "\"abcd\"")) },
            new Step { Expect = Expect.Cached, PauseAfterSeconds = 4 },
            new Step { Origin = new ScriptedResponse { NotModifiedIfConditional = true, Headers = [H("Cache-Control", "max-age=3, must-revalidate"), H("ETag", "\"abcd\"")] },
                Expect = Expect.EtagValidated, Status = 200 }),
        Two("must-revalidate-beats-max-stale", "RFC 9111 5.2.2.2", "max-stale cannot serve a stale must-revalidate response",
            R(H("Cache-Control", "max-age=1, must-revalidate")), new Step { Request = [("Cache-Control", "max-stale=3600")], Expect = Expect.NotCached }, Stale),
        Two("proxy-revalidate-beats-max-stale", "RFC 9111 5.2.2.8", "proxy-revalidate binds a shared cache like must-revalidate",
            R(H("Cache-Control", "max-age=1, proxy-revalidate")), new Step { Request = [("Cache-Control", "max-stale=3600")], Expect = Expect.NotCached }, Stale),
        Two("s-maxage-beats-max-stale", "RFC 9111 5.2.2.10", "s-maxage implies proxy-revalidate",
            R(H("Cache-Control", "s-maxage=1")), new Step { Request = [("Cache-Control", "max-stale=3600")], Expect = Expect.NotCached }, Stale),
        Two("must-understand-known-status", "RFC 9111 5.2.2.3", "must-understand with a understood status overrides no-store",
            R(H("Cache-Control", "must-understand, no-store, max-age=3600")), new Step { Expect = Expect.Cached }),
        new ConformanceCase("must-understand-unknown-status", "RFC 9111 5.2.2.3", "must-understand with a status whose rules we do not know: not stored",
            new Step { Origin = R(299, H("Cache-Control", "must-understand, no-store, max-age=3600")), Status = 299 },
            new Step { Origin = R(299, H("Cache-Control", "must-understand, no-store, max-age=3600")), Expect = Expect.NotCached, Status = 299 }),
        Two("public-no-freshness-heuristic", "RFC 9111 5.2.2.9", "public allows a heuristic lifetime",
            R(H("Cache-Control", "public"), D("Last-Modified", -86400), D("Date", 0)), new Step { Expect = Expect.Cached }),

        Two("private-and-public", "RFC 9111 5.2.2.7", "private wins over public", R(H("Cache-Control", "public, private, max-age=3600")), new Step { Expect = Expect.NotCached }),
        Two("s-maxage-0-over-max-age", "RFC 9111 5.2.2.10", "s-maxage=0 makes it stale for a shared cache", R(H("Cache-Control", "max-age=3600, s-maxage=0")), new Step { Expect = Expect.NotCached }),
        Two("age-huge", "RFC 9111 5.1", "a huge Age makes any lifetime stale", R(H("Cache-Control", "max-age=3600"), H("Age", "99999999999")), new Step { Expect = Expect.NotCached }),
        Two("only-if-cached-stale", "RFC 9111 5.2.1.7", "only-if-cached with only a stale entry: 504, origin not asked",
            R(H("Cache-Control", "max-age=1")), new Step { Request = [("Cache-Control", "only-if-cached")], Expect = Expect.Cached, Status = 504 }, Stale),
        Two("only-if-cached-max-stale", "RFC 9111 5.2.1.7", "only-if-cached with max-stale may use the stale entry",
            R(H("Cache-Control", "max-age=1")), new Step { Request = [("Cache-Control", "only-if-cached, max-stale")], Expect = Expect.Cached, Status = 200, Body = "body-1" }, Stale),

        // ---- Authorization (RFC 9111 3.5) ----
        new ConformanceCase("authorization-not-stored", "RFC 9111 3.5", "a response to an authorized request is not shared by default",
            new Step { Request = Auth, Origin = R(H("Cache-Control", "max-age=3600")) },
            new Step { Request = Auth, Origin = R(H("Cache-Control", "max-age=3600")), Expect = Expect.NotCached }),
        new ConformanceCase("authorization-public", "RFC 9111 3.5", "public allows sharing an authorized response",
            new Step { Request = Auth, Origin = R(H("Cache-Control", "public, max-age=3600")) }, new Step { Request = Auth, Expect = Expect.Cached }),
        new ConformanceCase("authorization-s-maxage", "RFC 9111 3.5", "s-maxage allows sharing an authorized response",
            new Step { Request = Auth, Origin = R(H("Cache-Control", "s-maxage=3600")) }, new Step { Request = Auth, Expect = Expect.Cached }),
        new ConformanceCase("authorization-must-revalidate", "RFC 9111 3.5", "must-revalidate allows sharing an authorized response",
            new Step { Request = Auth, Origin = R(H("Cache-Control", "must-revalidate, max-age=3600")) }, new Step { Request = Auth, Expect = Expect.Cached }),

        // ---- Request directives (RFC 9111 5.2.1) and Pragma (5.4) ----
        Two("request-max-age-0", "RFC 9111 5.2.1.1", "request max-age=0 is not answered from a fresh entry",
            Fresh(), new Step { Request = [("Cache-Control", "max-age=0")], Expect = Expect.NotCached }),
        Two("request-max-age-older", "RFC 9111 5.2.1.1", "request max-age smaller than the entry's age",
            R(H("Cache-Control", "max-age=3600"), H("Age", "1800")), new Step { Request = [("Cache-Control", "max-age=600")], Expect = Expect.NotCached }),
        Two("request-max-stale", "RFC 9111 5.2.1.2", "max-stale=N accepts a stale entry",
            R(H("Cache-Control", "max-age=1")), new Step { Request = [("Cache-Control", "max-stale=1000")], Expect = Expect.Cached }, Stale),
        Two("request-max-stale-any", "RFC 9111 5.2.1.2", "max-stale without a value accepts any staleness",
            R(H("Cache-Control", "max-age=1")), new Step { Request = [("Cache-Control", "max-stale")], Expect = Expect.Cached }, Stale),
        Two("request-max-stale-aged", "RFC 9111 5.2.1.2", "max-stale applies to an Age-stale entry",
            R(H("Cache-Control", "max-age=1500"), H("Age", "2000")), new Step { Request = [("Cache-Control", "max-stale=1000")], Expect = Expect.Cached }),
        Two("request-max-stale-too-small", "RFC 9111 5.2.1.2", "max-stale smaller than the staleness",
            R(H("Cache-Control", "max-age=1500"), H("Age", "4000")), new Step { Request = [("Cache-Control", "max-stale=1000")], Expect = Expect.NotCached }),
        Two("request-min-fresh", "RFC 9111 5.2.1.3", "min-fresh beyond the remaining lifetime",
            R(H("Cache-Control", "max-age=1500")), new Step { Request = [("Cache-Control", "min-fresh=2000")], Expect = Expect.NotCached }),
        Two("request-min-fresh-aged", "RFC 9111 5.2.1.3", "min-fresh counts the entry's Age",
            R(H("Cache-Control", "max-age=1500"), H("Age", "1000")), new Step { Request = [("Cache-Control", "min-fresh=1000")], Expect = Expect.NotCached }),
        Two("request-no-cache", "RFC 9111 5.2.1.4", "request no-cache goes to the origin",
            R(H("Cache-Control", "max-age=3600")), new Step { Request = [("Cache-Control", "no-cache")], Expect = Expect.NotCached }),
        Two("request-no-cache-lm", "RFC 9111 5.2.1.4", "request no-cache revalidates with If-Modified-Since",
            R(H("Cache-Control", "max-age=3600"), D("Last-Modified", -10000), D("Date", 0)),
            new Step { Request = [("Cache-Control", "no-cache")], Expect = Expect.LmValidated }),
        Two("request-no-cache-etag", "RFC 9111 5.2.1.4", "request no-cache revalidates with If-None-Match",
            R(H("Cache-Control", "max-age=3600"), H("ETag", "\"abc\"")),
            new Step { Request = [("Cache-Control", "no-cache")], Expect = Expect.EtagValidated }),
        new ConformanceCase("request-no-store", "RFC 9111 5.2.1.5", "request no-store is not answered from the cache and not stored",
            new Step { Request = [("Cache-Control", "no-store")], Origin = R(H("Cache-Control", "max-age=3600")) },
            new Step { Origin = R(H("Cache-Control", "max-age=3600")), Expect = Expect.NotCached }),
        new ConformanceCase("request-only-if-cached-miss", "RFC 9111 5.2.1.7", "only-if-cached with nothing stored: 504",
            new Step { Request = [("Cache-Control", "only-if-cached")], Expect = Expect.Cached, Status = 504 }),
        Two("request-only-if-cached-hit", "RFC 9111 5.2.1.7", "only-if-cached with a fresh entry: served",
            Fresh(), new Step { Request = [("Cache-Control", "only-if-cached")], Expect = Expect.Cached, Status = 200, Body = "body-1" }),
        Two("pragma-no-cache", "RFC 9111 5.4", "Pragma: no-cache without Cache-Control acts as no-cache",
            Fresh(), new Step { Request = [("Pragma", "no-cache")], Expect = Expect.NotCached }),
        Two("pragma-ignored-with-cache-control", "RFC 9111 5.4", "Pragma is ignored when the request has Cache-Control",
            Fresh(), new Step { Request = [("Pragma", "no-cache"), ("Cache-Control", "max-stale=10")], Expect = Expect.Cached }),
        Two("pragma-extension", "RFC 9111 5.4", "unknown Pragma values are ignored", Fresh(), new Step { Request = [("Pragma", "unrecognised-extension")], Expect = Expect.Cached }),
        Two("pragma-in-response", "RFC 9111 5.4", "Pragma in a response has no effect on freshness",
            R(H("Cache-Control", "max-age=3600"), H("Pragma", "no-cache")), new Step { Expect = Expect.Cached }),

        // ---- Cookies, connection-listed fields, keys ----
        Two("set-cookie-public-not-replayed", "RFC 9111 3.1 / RFC 6265 8", "a shared response with Set-Cookie is reused without the cookie",
            R(H("Cache-Control", "public, max-age=3600"), H("Set-Cookie", "a=b")), new Step { Expect = Expect.Cached, HeadersMissing = ["Set-Cookie"] }),
        Two("cookie-request-reuse", "RFC 9111 4", "a request Cookie does not prevent reuse", Fresh(), new Step { Request = [("Cookie", "a=b")], Expect = Expect.Cached }),
        Two("connection-listed-not-stored", "RFC 9110 7.6.1", "fields listed in Connection are neither forwarded nor stored",
            R(H("Connection", "a, b"), H("a", "1"), H("b", "2"), H("c", "3"), H("Cache-Control", "max-age=3600"), D("Date", 0)),
            new Step { Expect = Expect.Cached, HeadersMissing = ["a", "b"], Headers = [("c", "3")] }),
        new ConformanceCase("query-is-part-of-key", "RFC 9111 2", "different query strings are different entries",
            new Step { Query = "q=1", Origin = Fresh() }, new Step { Query = "q=2", Origin = Fresh(), Expect = Expect.NotCached },
            new Step { Query = "q=1", Expect = Expect.Cached, Body = "body-1" }),
        Two("other-headers-stored", "RFC 9111 3.1", "end-to-end headers are stored and replayed",
            R(H("Cache-Control", "max-age=3600"), H("X-Frame-Options", "deny"), H("Content-Type", "text/x-test"), H("Test-Header", "t")),
            new Step { Expect = Expect.Cached, Headers = [("X-Frame-Options", "deny"), ("Content-Type", "text/x-test"), ("Test-Header", "t")] }),

        // ---- Headers the cache adds (RFC 9111 5.1, RFC 9110 6.6.1, RFC 9211) ----
        Two("age-generated", "RFC 9111 5.1", "a stored response carries an Age of at least its residence time",
            R(D("Expires", 30 * 24 * 3600), D("Date", 0)), new Step { Expect = Expect.Cached, Check = AgeAtLeast(2) }, Stale),
        Two("age-updated-expires", "RFC 9111 4.2.3", "Age adds residence time to the upstream Age (Expires)",
            R(D("Expires", 30 * 24 * 3600), D("Date", 0), H("Age", "30")), new Step { Expect = Expect.Cached, Check = AgeAtLeast(32) }, Stale),
        Two("age-updated-max-age", "RFC 9111 4.2.3", "Age adds residence time to the upstream Age (max-age)",
            R(H("Cache-Control", "max-age=600"), D("Date", 0), H("Age", "30")), new Step { Expect = Expect.Cached, Check = AgeAtLeast(32) }, Stale),
        Two("date-not-updated", "RFC 9110 6.6.1", "the stored Date is replayed, not replaced",
            R(D("Expires", 3600), D("Date", -100)), new Step { Expect = Expect.Cached, Check = DateAgo(100) }, 1),
        new ConformanceCase("cache-status-miss-then-hit", "RFC 9211 2", "Cache-Status on a stored miss and on a hit",
            new Step { Origin = Fresh(), Check = r => Contains(r, "Cache-Status", "fwd=uri-miss", "stored") },
            new Step { Expect = Expect.Cached, Check = r => Contains(r, "Cache-Status", "hit", "ttl=") }),
        new ConformanceCase("cache-status-not-stored", "RFC 9211 2.2", "Cache-Status on a response that was not stored",
            new Step { Origin = R(H("Cache-Control", "no-store")), Check = r => Contains(r, "Cache-Status", "fwd=") is { } m ? m
                : r.Header("Cache-Status")!.Contains("stored") ? "Cache-Status says stored for a no-store response" : null }),
        new ConformanceCase("cache-status-method", "RFC 9211 2.2", "Cache-Status fwd=method on a POST",
            new Step { Method = "POST", RequestBody = "x", Origin = R(), Check = r => Contains(r, "Cache-Status", "fwd=method") }),

        // ---- CDN-Cache-Control (RFC 9213) ----
        Two("cdn-max-age", "RFC 9213 2.1", "CDN-Cache-Control max-age is honoured", R(H("CDN-Cache-Control", "max-age=3600")), new Step { Expect = Expect.Cached }),
        Two("cdn-max-age-age", "RFC 9213 2.1", "Age counts against CDN-Cache-Control max-age",
            R(D("Date", 0), H("CDN-Cache-Control", "max-age=3600"), H("Age", "7200")), new Step { Expect = Expect.NotCached }),
        Two("cdn-max-age-0", "RFC 9213 2.1", "CDN-Cache-Control max-age=0 is stale", R(H("CDN-Cache-Control", "max-age=0")), new Step { Expect = Expect.NotCached }),
        Two("cdn-max-age-0-expires", "RFC 9213 2.1", "CDN-Cache-Control overrides Expires",
            R(H("CDN-Cache-Control", "max-age=0"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("cdn-over-short-cc", "RFC 9213 2.1", "a long CDN-Cache-Control beats a short Cache-Control",
            R(H("Cache-Control", "max-age=1"), H("CDN-Cache-Control", "max-age=3600")), new Step { Expect = Expect.Cached }, Stale),
        Two("cdn-short-over-long-cc", "RFC 9213 2.1", "a short CDN-Cache-Control beats a long Cache-Control",
            R(H("Cache-Control", "max-age=3600"), H("CDN-Cache-Control", "max-age=1")), new Step { Expect = Expect.NotCached }, Stale),
        Two("cdn-private", "RFC 9213 2.1", "CDN-Cache-Control private is not stored",
            R(H("CDN-Cache-Control", "private"), H("Cache-Control", "max-age=10000"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("cdn-no-cache", "RFC 9213 2.1", "CDN-Cache-Control no-cache is not reused",
            R(H("CDN-Cache-Control", "no-cache"), H("Cache-Control", "max-age=10000"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("cdn-no-store", "RFC 9213 2.1", "CDN-Cache-Control no-store is not stored",
            R(H("Cache-Control", "max-age=10000"), H("CDN-Cache-Control", "no-store"), D("Expires", 10000), D("Date", 0)), new Step { Expect = Expect.NotCached }),
        Two("cdn-fresh-over-cc-no-store", "RFC 9213 2.1", "CDN-Cache-Control max-age replaces a Cache-Control no-store",
            R(H("Cache-Control", "no-store"), H("CDN-Cache-Control", "max-age=10000")), new Step { Expect = Expect.Cached }),
        Two("cdn-invalid-sf-ignored", "RFC 9213 2.2", "an invalid CDN-Cache-Control is ignored (Cache-Control applies)",
            R(H("CDN-Cache-Control", "max-age=10000, &&&&&"), H("Cache-Control", "no-store")), new Step { Expect = Expect.NotCached }),
        Two("cdn-wrong-type-ignored", "RFC 9213 2.2", "a string max-age in CDN-Cache-Control is not a lifetime",
            R(H("CDN-Cache-Control", "max-age=\"10000\""), H("Cache-Control", "no-store")), new Step { Expect = Expect.NotCached }),
        Two("cdn-forwarded", "RFC 9213 3", "CDN-Cache-Control is passed on downstream",
            R(H("Cache-Control", "max-age=10000"), H("CDN-Cache-Control", "max-age=60")), new Step { Expect = Expect.Cached, Headers = [("CDN-Cache-Control", "max-age=60")] }),
    };

    private static Func<HttpResponseMessage, string?> AgeAtLeast(int seconds) => r =>
        r.Header("Age") is { } a && long.TryParse(a, out var age) ? (age >= seconds ? null : $"Age {age}, expected at least {seconds}") : "no Age header";

    private static Func<HttpResponseMessage, string?> DateAgo(int seconds) => r =>
    {
        if (r.Headers.Date is not { } date) return "no Date header";
        var ago = (DateTimeOffset.UtcNow - date).TotalSeconds;
        return ago >= seconds - 2 && ago <= seconds + 30 ? null : $"Date is {ago:0} s ago, expected about {seconds} (the stored Date)";
    };

    private static string? Contains(HttpResponseMessage r, string header, params string[] parts)
    {
        var value = r.Header(header);
        if (value is null) return $"no {header} header";
        foreach (var p in parts) if (!value.Contains(p, StringComparison.Ordinal)) return $"{header} \"{value}\" lacks \"{p}\"";
        return null;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => host.RunAsync(c);
}
