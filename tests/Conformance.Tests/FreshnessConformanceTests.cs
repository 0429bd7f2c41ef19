using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>Freshness lifetime, age and their parsing (RFC 9111 4.2, 5.1, 5.2.2, 5.3; RFC 9110 5.6.7).</summary>
public sealed class FreshnessConformanceTests(SingleNode host) : IClassFixture<SingleNode>
{
    private const double Stale = 2.2; // long enough for a one-second lifetime to run out

    /// <summary>First step stores the response (whatever happens), second checks whether it is reused.</summary>
    private static ConformanceCase Two(string id, string rfc, string title, Expect second, double pause, params ScriptedHeader[] headers) =>
        new(id, rfc, title,
            new Step { Origin = R(headers), PauseAfterSeconds = pause },
            new Step { Expect = second, Status = 200 });

    private static ConformanceCase TwoStatus(string id, string rfc, string title, Expect second, int status, double pause, params ScriptedHeader[] headers) =>
        new(id, rfc, title,
            new Step { Origin = R(status, headers), PauseAfterSeconds = pause, Status = status },
            new Step { Origin = R(status, headers), Expect = second, Status = status, Body = status is 204 ? "" : null });

    public static TheoryData<ConformanceCase> Cases()
    {
        var d = new TheoryData<ConformanceCase>
        {
            // ---- Cache-Control max-age / s-maxage (RFC 9111 4.2.1, 5.2.2.1, 5.2.2.10) ----
            Two("max-age-fresh", "RFC 9111 5.2.2.1", "positive max-age is reused", Expect.Cached, 0, H("Cache-Control", "max-age=3600")),
            Two("max-age-quoted", "RFC 9111 5.2", "max-age given as a quoted-string is accepted", Expect.Cached, 0, H("Cache-Control", "max-age=\"3600\"")),
            Two("max-age-single-quoted", "RFC 9111 5.2", "single quotes are not quoting: invalid max-age is stale", Expect.NotCached, Stale, H("Cache-Control", "max-age='3600'")),
            Two("max-age-in-quoted-extension-before", "RFC 9111 5.2", "max-age inside another directive's quoted value is ignored", Expect.NotCached, Stale, H("Cache-Control", "extension=\"max-age=3600\", max-age=1")),
            Two("max-age-in-quoted-extension-after", "RFC 9111 5.2", "max-age inside a later quoted value is ignored", Expect.NotCached, Stale, H("Cache-Control", "max-age=1, extension=\"max-age=3600\"")),
            Two("max-age-quoted-and-quoted-extension", "RFC 9111 5.2", "quoted max-age wins over a quoted extension mentioning max-age", Expect.NotCached, Stale, H("Cache-Control", "extension=\"max-age=3600\", max-age=\"1\"")),
            Two("max-age-space-before-equals", "RFC 9111 5.2", "'max-age =N' is not a max-age with a value", Expect.NotCached, Stale, H("Cache-Control", "max-age =3600")),
            Two("max-age-space-after-equals", "RFC 9111 5.2", "'max-age= N' is not a valid max-age", Expect.NotCached, Stale, H("Cache-Control", "max-age= 3600")),
            Two("max-age-0", "RFC 9111 5.2.2.1", "max-age=0 is stale at once", Expect.NotCached, 0, H("Cache-Control", "max-age=0")),
            Two("max-age-leading-alpha", "RFC 9111 1.2.2", "max-age=a100 is invalid: stale", Expect.NotCached, 0, H("Cache-Control", "max-age=a100")),
            Two("max-age-trailing-alpha", "RFC 9111 1.2.2", "max-age=100a is invalid: stale", Expect.NotCached, 0, H("Cache-Control", "max-age=100a")),
            Two("max-age-negative", "RFC 9111 1.2.2", "negative max-age is invalid: stale", Expect.NotCached, 0, H("Cache-Control", "max-age=-100")),
            Two("max-age-leading-zeros", "RFC 9111 1.2.2", "max-age=003600 is 3600", Expect.Cached, 0, H("Cache-Control", "max-age=003600")),
            Two("max-age-2^31", "RFC 9111 1.2.2", "max-age=2147483648 is a valid (maximal) lifetime", Expect.Cached, 0, H("Cache-Control", "max-age=2147483648")),
            Two("max-age-huge", "RFC 9111 1.2.2", "delta-seconds beyond 2^31 are clamped, not rejected", Expect.Cached, 0, H("Cache-Control", "max-age=99999999999")),
            Two("max-age-mixed-case", "RFC 9111 5.2", "directive names are case-insensitive", Expect.Cached, 0, H("Cache-Control", "MaX-aGe=3600")),
            Two("max-age-with-extension", "RFC 9111 5.2.3", "unknown directives are ignored", Expect.Cached, 0, H("Cache-Control", "foobar, max-age=3600")),
            Two("max-age-duplicate-first-wins", "RFC 9111 4.2.1", "a repeated max-age uses the first value", Expect.Cached, Stale, H("Cache-Control", "max-age=1800, max-age=1")),
            Two("max-age-duplicate-lines-first-wins", "RFC 9111 4.2.1", "a repeated max-age on separate lines uses the first value", Expect.Cached, Stale, H("Cache-Control", "max-age=1800"), H("Cache-Control", "max-age=1")),
            Two("max-age-beats-past-expires", "RFC 9111 4.2.1", "max-age overrides a past Expires", Expect.Cached, 0, H("Cache-Control", "max-age=3600"), D("Expires", -10000), D("Date", 0)),
            Two("max-age-beats-invalid-expires", "RFC 9111 4.2.1", "max-age overrides an invalid Expires", Expect.Cached, 0, H("Cache-Control", "max-age=3600"), H("Expires", "0"), D("Date", 0)),
            Two("max-age-0-beats-future-expires", "RFC 9111 4.2.1", "max-age=0 overrides a future Expires", Expect.NotCached, 0, D("Expires", 10000), H("Cache-Control", "max-age=0"), D("Date", 0)),
            Two("max-age-exceeded-by-age", "RFC 9111 4.2.3", "an upstream Age larger than max-age makes it stale", Expect.NotCached, 0, D("Date", 0), H("Cache-Control", "max-age=10"), H("Age", "15")),
            Two("s-maxage-fresh", "RFC 9111 5.2.2.10", "a shared cache reuses s-maxage", Expect.Cached, 0, H("Cache-Control", "s-maxage=3600")),
            Two("s-maxage-over-longer-max-age", "RFC 9111 5.2.2.10", "s-maxage wins over a longer max-age", Expect.NotCached, Stale, H("Cache-Control", "max-age=3600, s-maxage=1")),
            Two("s-maxage-over-longer-max-age-reversed", "RFC 9111 5.2.2.10", "s-maxage wins whatever the order", Expect.NotCached, Stale, H("Cache-Control", "s-maxage=1, max-age=3600")),
            Two("s-maxage-over-longer-max-age-lines", "RFC 9111 5.2.2.10", "s-maxage wins across field lines", Expect.NotCached, Stale, H("Cache-Control", "max-age=3600"), H("Cache-Control", "s-maxage=1")),
            Two("s-maxage-over-shorter-max-age", "RFC 9111 5.2.2.10", "s-maxage wins over a shorter max-age", Expect.Cached, Stale, H("Cache-Control", "max-age=1, s-maxage=3600")),

            // ---- Expires (RFC 9111 5.3, 4.2.1; RFC 9110 5.6.7) ----
            Two("expires-future", "RFC 9111 5.3", "a future Expires is reused", Expect.Cached, 0, D("Expires", 30 * 24 * 3600), D("Date", 0)),
            Two("expires-past", "RFC 9111 5.3", "a past Expires is stale", Expect.NotCached, 0, D("Expires", -30 * 24 * 3600), D("Date", 0)),
            Two("expires-equals-date", "RFC 9111 4.2.1", "Expires equal to Date is stale", Expect.NotCached, 0, D("Expires", 0), D("Date", 0)),
            Two("expires-before-date-both-fast", "RFC 9111 4.2.1", "lifetime is Expires minus Date, not minus now", Expect.NotCached, 0, D("Expires", 300), D("Date", 400)),
            Two("expires-invalid-0", "RFC 9111 5.3", "Expires: 0 means already expired", Expect.NotCached, 0, H("Expires", "0"), D("Date", 0)),
            Two("expires-invalid-utc", "RFC 9110 5.6.7", "a zone other than GMT is invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18 Aug 2050 02:01:18 UTC"), D("Date", 0)),
            Two("expires-invalid-two-digit-year", "RFC 9110 5.6.7", "IMF-fixdate with a two-digit year is invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18 Aug 50 02:01:18 GMT"), D("Date", 0)),
            Two("expires-invalid-no-comma", "RFC 9110 5.6.7", "missing comma is invalid: expired", Expect.NotCached, 0, H("Expires", "Thu 18 Aug 2050 02:01:18 GMT"), D("Date", 0)),
            Two("expires-invalid-multiple-spaces", "RFC 9110 5.6.7", "extra spaces are invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18  Aug  2050 02:01:18 GMT"), D("Date", 0)),
            Two("expires-invalid-date-dashes", "RFC 9110 5.6.7", "dashes in an IMF-fixdate are invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18-Aug-2050 02:01:18 GMT"), D("Date", 0)),
            Two("expires-invalid-time-periods", "RFC 9110 5.6.7", "periods in the time are invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18 Aug 2050 02.01.18 GMT"), D("Date", 0)),
            Two("expires-invalid-one-digit-hour", "RFC 9110 5.6.7", "a one-digit hour is invalid: expired", Expect.NotCached, 0, H("Expires", "Thu, 18 Aug 2050 2:01:18 GMT"), D("Date", 0)),
            Two("expires-wrong-case-weekday", "RFC 9111 4.2", "a cache matches HTTP-dates case-insensitively (weekday)", Expect.Cached, 0, H("Expires", "THU, 18 Aug 2050 02:01:18 GMT"), D("Date", 0)),
            Two("expires-wrong-case-month", "RFC 9111 4.2", "a cache matches HTTP-dates case-insensitively (month)", Expect.Cached, 0, H("Expires", "Thu, 18 AUG 2050 02:01:18 GMT"), D("Date", 0)),
            Two("expires-wrong-case-zone", "RFC 9111 4.2", "a cache matches HTTP-dates case-insensitively (zone)", Expect.Cached, 0, H("Expires", "Thu, 18 Aug 2050 02:01:18 gMT"), D("Date", 0)),
            Two("expires-rfc850", "RFC 9110 5.6.7", "the obsolete RFC 850 form is accepted", Expect.Cached, 0, H("Expires", "Thursday, 18-Aug-50 02:01:18 GMT"), D("Date", 0)),
            Two("expires-asctime", "RFC 9110 5.6.7", "the obsolete asctime form is accepted", Expect.Cached, 0, H("Expires", "Thu Aug 18 02:01:18 2050"), D("Date", 0)),
            Two("expires-with-invalid-date", "RFC 9111 4.2.1", "an invalid Date is replaced by the receive time", Expect.Cached, 0, H("Date", "foo"), D("Expires", 3600)),
            Two("expires-two-lines", "RFC 9111 4.2.1", "two Expires lines: stale (conservative reading)", Expect.NotCached, 0, D("Expires", 3600), D("Expires", 7200), D("Date", 0)),
            Two("expires-exceeded-by-age-slow-date", "RFC 9111 4.2.3", "Age counts against Expires - Date (Date behind)", Expect.NotCached, 0, D("Date", -10), D("Expires", 10), H("Age", "25")),
            Two("expires-exceeded-by-age-fast-date", "RFC 9111 4.2.3", "Age counts against Expires - Date (Date ahead)", Expect.NotCached, 0, D("Date", 10), D("Expires", 20), H("Age", "15")),

            // ---- Age parsing (RFC 9111 5.1) ----
            Two("age-non-numeric-ignored", "RFC 9111 5.1", "a non-numeric Age is ignored", Expect.Cached, 0, D("Date", 0), H("Cache-Control", "max-age=3600"), H("Age", "abc")),
            Two("age-negative-ignored", "RFC 9111 5.1", "a negative Age is ignored", Expect.Cached, 0, D("Date", 0), H("Cache-Control", "max-age=3600"), H("Age", "-7200")),

            // ---- Heuristic freshness (RFC 9111 4.2.2, RFC 9110 15.1) ----
            TwoStatus("heuristic-200", "RFC 9111 4.2.2", "200 with Last-Modified is heuristically fresh", Expect.Cached, 200, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-203", "RFC 9111 4.2.2", "203 is heuristically cacheable", Expect.Cached, 203, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-204", "RFC 9111 4.2.2", "204 is heuristically cacheable", Expect.Cached, 204, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-404", "RFC 9111 4.2.2", "404 is heuristically cacheable", Expect.Cached, 404, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-405", "RFC 9111 4.2.2", "405 is heuristically cacheable", Expect.Cached, 405, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-410", "RFC 9111 4.2.2", "410 is heuristically cacheable", Expect.Cached, 410, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-414", "RFC 9111 4.2.2", "414 is heuristically cacheable", Expect.Cached, 414, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-501", "RFC 9111 4.2.2", "501 is heuristically cacheable", Expect.Cached, 501, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-201-no", "RFC 9111 4.2.2", "201 is not heuristically cacheable", Expect.NotCached, 201, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-202-no", "RFC 9111 4.2.2", "202 is not heuristically cacheable", Expect.NotCached, 202, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-403-no", "RFC 9111 4.2.2", "403 is not heuristically cacheable", Expect.NotCached, 403, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-502-no", "RFC 9111 4.2.2", "502 is not heuristically cacheable", Expect.NotCached, 502, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-503-no", "RFC 9111 4.2.2", "503 is not heuristically cacheable", Expect.NotCached, 503, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-504-no", "RFC 9111 4.2.2", "504 is not heuristically cacheable", Expect.NotCached, 504, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-599-no", "RFC 9111 4.2.2", "an unknown status is not heuristically cacheable", Expect.NotCached, 599, 0, D("Last-Modified", -86400), D("Date", 0)),
            TwoStatus("heuristic-599-public", "RFC 9111 4.2.2", "public makes any status heuristically cacheable", Expect.Cached, 599, 0, D("Last-Modified", -86400), D("Date", 0), H("Cache-Control", "public")),
            Two("heuristic-no-last-modified", "RFC 9111 4.2.2", "without Last-Modified there is nothing to base a heuristic on", Expect.NotCached, 0, D("Date", 0)),
            Two("heuristic-future-last-modified", "RFC 9111 4.2.2", "Last-Modified after Date gives no heuristic freshness", Expect.NotCached, 0, D("Last-Modified", 3600), D("Date", 0)),
        };

        // ---- Status codes with explicit freshness (RFC 9111 3, 4.2) ----
        foreach (var status in new[] { 200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599 })
        {
            d.Add(TwoStatus($"status-{status}-stale", "RFC 9111 4.2", $"a stale {status} is not reused", Expect.NotCached, status, 0,
                D("Expires", -5000), D("Last-Modified", -100000), D("Date", 0)));
            d.Add(TwoStatus($"status-{status}-fresh", "RFC 9111 3", $"a {status} with explicit freshness is reused", Expect.Cached, status, 0,
                D("Expires", 100000), H("Cache-Control", "max-age=100000"), D("Last-Modified", 0), D("Date", 0)));
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => host.RunAsync(c);
}
