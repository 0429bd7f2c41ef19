using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>Validation: conditional requests to the origin, 304 updates, and clients' conditionals (RFC 9111 4.3).</summary>
public sealed class ValidationConformanceTests(SingleNode host) : IClassFixture<SingleNode>
{
    private const double Stale = 2.2;
    private const string Lm = "Wed, 01 Jan 2020 00:00:00 GMT";

    private static ScriptedResponse NotModified(params ScriptedHeader[] headers) => new() { NotModifiedIfConditional = true, Headers = [.. headers] };

    /// <summary>Stored with header A, revalidated by a 304 carrying header B: the response and the stored entry show B.</summary>
    private static ConformanceCase Updates(string header, string a, string b, bool byEtag = true)
    {
        var validator = byEtag ? H("ETag", "\"v1\"") : H("Last-Modified", Lm);
        var cc = header.Equals("Cache-Control", StringComparison.OrdinalIgnoreCase) ? [] : new[] { H("Cache-Control", "max-age=1") };
        var ccB = header.Equals("Cache-Control", StringComparison.OrdinalIgnoreCase) ? [] : new[] { H("Cache-Control", "max-age=3600") };
        return new ConformanceCase($"304-{(byEtag ? "etag" : "lm")}-updates-{header}", "RFC 9111 4.3.4", $"a 304 replaces the stored {header}",
            new Step { Origin = R([D("Date", 0), H(header, a), validator, .. cc]), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified([D("Date", 0), H(header, b), validator, .. ccB]),
                Expect = byEtag ? Expect.EtagValidated : Expect.LmValidated, Status = 200, Body = "body-1", Headers = [(header, b)] },
            new Step { Expect = Expect.Cached, Status = 200, Body = "body-1", Headers = [(header, b)] });
    }

    /// <summary>Stored with header A, revalidated by a 304 carrying header B: the stored body's description stays A.</summary>
    private static ConformanceCase Keeps(string header, string a, string b) =>
        new($"304-keeps-stored-{header}", "RFC 9111 3.2", $"a 304 does not change the stored {header} (it describes the body we hold)",
            new Step { Origin = R([D("Date", 0), H(header, a), H("ETag", "\"v1\""), H("Cache-Control", "max-age=1")]), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified([D("Date", 0), H(header, b), H("ETag", "\"v1\""), H("Cache-Control", "max-age=3600")]),
                Expect = Expect.EtagValidated, Status = 200, Body = "body-1", Headers = [(header, a)] },
            new Step { Expect = Expect.Cached, Status = 200, Body = "body-1", Headers = [(header, a)] });

    public static TheoryData<ConformanceCase> Cases() => new()
    {
        Keeps("Content-Type", "text/plain", "text/html"),
        Keeps("Content-Range", "bytes 0-5/6", "bytes 0-99/100"),
        // ---- Sending validators (RFC 9111 4.3.1) ----
        new ConformanceCase("etag-validates", "RFC 9111 4.3.1", "a stale entry with a strong ETag is revalidated with If-None-Match",
            new Step { Origin = R(D("Expires", 1), H("ETag", "\"abcdef\""), D("Date", 0)), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(H("ETag", "\"abcdef\"")), Expect = Expect.EtagValidated, OriginSaw = [("If-None-Match", "\"abcdef\"")], Status = 200, Body = "body-1" }),
        new ConformanceCase("weak-etag-validates", "RFC 9111 4.3.1", "a weak ETag is sent as is",
            new Step { Origin = R(D("Expires", 1), H("ETag", "W/\"abcdef\""), D("Date", 0)), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(H("ETag", "W/\"abcdef\"")), Expect = Expect.EtagValidated, OriginSaw = [("If-None-Match", "W/\"abcdef\"")], Status = 200 }),
        new ConformanceCase("lm-validates", "RFC 9111 4.3.1", "a stale entry with Last-Modified is revalidated with If-Modified-Since",
            new Step { Origin = R(D("Expires", 1), H("Last-Modified", Lm), D("Date", 0)), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(H("Last-Modified", Lm)), Expect = Expect.LmValidated, OriginSaw = [("If-Modified-Since", Lm)], Status = 200, Body = "body-1" }),
        new ConformanceCase("no-validator-refetches", "RFC 9111 4.3.1", "a stale entry without validators is fetched again, unconditionally",
            new Step { Origin = R(H("Cache-Control", "max-age=1")), PauseAfterSeconds = Stale },
            new Step { Origin = R(H("Cache-Control", "max-age=3600")), Expect = Expect.NotCached, OriginDidNotSee = ["If-None-Match", "If-Modified-Since"], Body = "body-2" }),
        new ConformanceCase("200-replaces-entry", "RFC 9111 4.3.3", "a full response to a revalidation replaces the stored one",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"a\"")), PauseAfterSeconds = Stale },
            new Step { Origin = R(H("Cache-Control", "max-age=3600"), H("ETag", "\"b\"")), Expect = Expect.EtagValidated, Body = "body-2", Headers = [("ETag", "\"b\"")] },
            new Step { Expect = Expect.Cached, Body = "body-2", Headers = [("ETag", "\"b\"")] }),
        new ConformanceCase("304-other-etag-does-not-update", "RFC 9111 4.3.4", "a 304 naming another strong ETag does not freshen the stored response: it is fetched again",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("ETag", "\"a\"")), PauseAfterSeconds = Stale },
            new Step { Origin = new ScriptedResponse { NotModifiedForAnyConditional = true, Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"b\"")] },
                Expect = Expect.EtagValidated, Status = 200, Body = "body-2", Headers = [("ETag", "\"b\"")] },
            new Step { Expect = Expect.Cached, Status = 200, Body = "body-2", Headers = [("ETag", "\"b\"")] }),
        new ConformanceCase("304-keeps-omitted-header", "RFC 9111 3.2", "a header the 304 omits stays as stored",
            new Step { Origin = R(H("Cache-Control", "max-age=1"), H("Last-Modified", Lm), D("Date", 0), H("Test-Header", "A")), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(H("Last-Modified", Lm), D("Date", 0)), Expect = Expect.LmValidated, Status = 200, Headers = [("Test-Header", "A")] }),
        Updates("Test-Header", "A", "B"),
        Updates("X-Test-Header", "A", "B"),
        Updates("Content-Foo", "A", "B"),
        Updates("X-Content-Foo", "A", "B"),
        Updates("Cache-Control", "max-age=1", "max-age=3600"),
        Updates("Test-Header", "A", "B", byEtag: false),
        Updates("X-Frame-Options", "deny", "sameorigin"),
        new ConformanceCase("304-does-not-update-content-length", "RFC 9111 3.2", "Content-Length from a 304 does not change the stored length",
            new Step { Origin = new ScriptedResponse { Body = "abcde", Headers = [D("Date", 0), H("Cache-Control", "max-age=1"), H("ETag", "\"cl\"")] }, PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(D("Date", 0), H("Cache-Control", "max-age=3600"), H("ETag", "\"cl\""), H("Content-Length", "10")),
                Expect = Expect.EtagValidated, Status = 200, Body = "abcde", Headers = [("Content-Length", "5")] },
            new Step { Expect = Expect.Cached, Body = "abcde", Headers = [("Content-Length", "5")] }),

        new ConformanceCase("304-set-cookie-not-stored", "RFC 9111 3.2", "a Set-Cookie on a 304 is never replayed to other clients",
            new Step { Origin = R(H("Cache-Control", "public, max-age=1"), H("ETag", "\"sc\"")), PauseAfterSeconds = Stale },
            new Step { Origin = NotModified(H("Cache-Control", "public, max-age=3600"), H("ETag", "\"sc\""), H("Set-Cookie", "a=b")), Expect = Expect.EtagValidated, Status = 200 },
            new Step { Expect = Expect.Cached, Status = 200, HeadersMissing = ["Set-Cookie"] }),

        // ---- Clients' conditional requests (RFC 9111 4.3.2) ----
        new ConformanceCase("client-conditional-miss", "RFC 9111 4.3.2", "a client's conditional with nothing stored is forwarded; the 304 is not stored",
            new Step { Request = [("If-None-Match", "\"c\"")], Origin = new ScriptedResponse { NotModifiedIfConditional = true, Headers = [H("Cache-Control", "max-age=3600"), H("ETag", "\"c\"")] },
                Expect = Expect.NotCached, Status = 304 },
            new Step { Origin = R(H("Cache-Control", "max-age=3600"), H("ETag", "\"c\"")), Expect = Expect.NotCached, Status = 200, Body = "body-2" }),
        new ConformanceCase("client-inm-obs-text", "RFC 9110 8.8.3", "an entity-tag with obs-text is stored, replayed and matched",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\u00fc\""), D("Date", 0)), Status = 200 },
            new Step { Request = [("If-None-Match", "\"abcdef\u00fc\"")], Expect = Expect.Cached, Status = 304 },
            new Step { Expect = Expect.Cached, Status = 200, Headers = [("ETag", "\"abcdef\u00fc\"")] }),
        new ConformanceCase("client-inm-strong", "RFC 9111 4.3.2", "If-None-Match matching a fresh entry gets 304 from the cache, with the ETag",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "\"abcdef\"")], Expect = Expect.Cached, Status = 304, Headers = [("ETag", "\"abcdef\"")] }),
        new ConformanceCase("client-inm-weak", "RFC 9111 4.3.2", "If-None-Match uses weak comparison",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "W/\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "W/\"abcdef\"")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-inm-unquoted", "RFC 9110 8.8.3", "an unquoted If-None-Match tag still matches the stored quoted ETag (lenient)",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "abcdef")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-inm-lowercase-weak", "RFC 9110 8.8.3", "a lower-case weakness flag still matches (lenient)",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "w/\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "W/\"abcdef\"")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-inm-list", "RFC 9111 4.3.2", "a tag in the middle of a list matches",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "\"1234\", \"abcdef\", \"5678\"")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-inm-star", "RFC 9110 13.1.2", "If-None-Match: * matches any stored representation",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "*")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-inm-mismatch", "RFC 9111 4.3.2", "a non-matching If-None-Match gets the stored 200",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abcdef\""), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "\"other\"")], Expect = Expect.Cached, Status = 200, Body = "body-1" }),
        new ConformanceCase("client-ims-equal", "RFC 9111 4.3.2", "If-Modified-Since equal to Last-Modified gets 304",
            new Step { Origin = R(D("Expires", 100000), H("Last-Modified", Lm), D("Date", 0)) },
            new Step { Request = [("If-Modified-Since", Lm)], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-ims-later", "RFC 9111 4.3.2", "If-Modified-Since after Last-Modified gets 304",
            new Step { Origin = R(D("Expires", 100000), H("Last-Modified", Lm), D("Date", 0)) },
            new Step { Request = [("If-Modified-Since", "Thu, 02 Jan 2020 00:00:00 GMT")], Expect = Expect.Cached, Status = 304 }),
        new ConformanceCase("client-ims-earlier", "RFC 9111 4.3.2", "If-Modified-Since before Last-Modified gets the stored 200",
            new Step { Origin = R(D("Expires", 100000), H("Last-Modified", Lm), D("Date", 0)) },
            new Step { Request = [("If-Modified-Since", "Tue, 31 Dec 2019 00:00:00 GMT")], Expect = Expect.Cached, Status = 200, Body = "body-1" }),
        new ConformanceCase("client-inm-wins-over-ims", "RFC 9110 13.2.2", "If-None-Match is evaluated instead of If-Modified-Since",
            new Step { Origin = R(D("Expires", 100000), H("ETag", "\"abc\""), H("Last-Modified", Lm), D("Date", 0)) },
            new Step { Request = [("If-None-Match", "\"other\""), ("If-Modified-Since", Lm)], Expect = Expect.Cached, Status = 200 }),
        new ConformanceCase("client-ims-stale-validated", "RFC 9111 4.3.2", "a client conditional on a stale entry: revalidated, then 304 to the client",
            new Step { Origin = R(D("Expires", 1), H("Last-Modified", Lm), D("Date", 0)), PauseAfterSeconds = Stale },
            new Step { Request = [("If-Modified-Since", Lm)], Origin = NotModified(H("Last-Modified", Lm), D("Expires", 3600)), Expect = Expect.LmValidated, Status = 304 }),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => host.RunAsync(c);
}
