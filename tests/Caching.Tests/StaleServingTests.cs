using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>stale-while-revalidate and stale-if-error (RFC 5861; RFC 9111 4.2.4).</summary>
public class StaleServingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static string D(DateTimeOffset d) => HttpDate.Format(d);

    private static FreshnessFacts Facts(string responseCc)
    {
        var verdict = StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now), "ETag", "\"a\""],
            CacheControl.Parse(responseCc), 1, Now, Now, FreshnessRules.Default, out var facts);
        Assert.Equal(StoreVerdict.Store, verdict);
        return facts;
    }

    [Theory] // response max-age=60 stored at Now; evaluated at Now + elapsed
    // rfc, response Cache-Control, request Cache-Control, elapsed seconds, expected, expected staleness
    [InlineData("RFC 5861 3: within the window", "max-age=60, stale-while-revalidate=30", "", 80, true, 20)]
    [InlineData("RFC 5861 3: at the window's end", "max-age=60, stale-while-revalidate=30", "", 90, true, 30)]
    [InlineData("RFC 5861 3: past the window", "max-age=60, stale-while-revalidate=30", "", 91, false, 31)]
    [InlineData("RFC 5861 3: fresh entry is a plain hit, not SWR", "max-age=60, stale-while-revalidate=30", "", 30, false, -30)]
    [InlineData("RFC 5861 3: no directive, no SWR", "max-age=60", "", 80, false, 20)]
    [InlineData("RFC 5861 3: zero window", "max-age=60, stale-while-revalidate=0", "", 61, false, 1)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.2: must-revalidate forbids", "max-age=60, must-revalidate, stale-while-revalidate=30", "", 80, false, 20)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.8: proxy-revalidate forbids", "max-age=60, proxy-revalidate, stale-while-revalidate=30", "", 80, false, 20)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.10: s-maxage implies proxy-revalidate", "s-maxage=60, stale-while-revalidate=30", "", 80, false, 20)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.4: response no-cache forbids", "max-age=60, no-cache, stale-while-revalidate=30", "", 80, false, 20)]
    [InlineData("RFC 9111 5.2.1.4: request no-cache forbids", "max-age=60, stale-while-revalidate=30", "no-cache", 80, false, 20)]
    [InlineData("RFC 9111 5.2.1.1: request max-age exceeded forbids", "max-age=60, stale-while-revalidate=30", "max-age=70", 80, false, 20)]
    [InlineData("RFC 9111 5.2.1.1: request max-age not exceeded allows", "max-age=60, stale-while-revalidate=30", "max-age=600", 80, true, 20)]
    [InlineData("RFC 9111 5.2.1.3: request min-fresh forbids", "max-age=60, stale-while-revalidate=30", "min-fresh=1", 80, false, 20)]
    [InlineData("RFC 5861 3: quoted and uppercase directive", "max-age=60, STALE-WHILE-REVALIDATE=\"30\"", "", 80, true, 20)]
    public void Stale_while_revalidate(string rfc, string responseCc, string requestCc, int elapsed, bool expected, int staleness)
    {
        _ = rfc;
        var facts = Facts(responseCc);
        Assert.Equal(expected, HitDecision.CanServeWhileRevalidating(facts, Now, CacheControl.Parse(requestCc), false, Now.AddSeconds(elapsed), out var s));
        Assert.Equal(TimeSpan.FromSeconds(staleness), s);
    }

    [Fact] // RFC 9111 5.4: Pragma: no-cache without Cache-Control forbids SWR
    public void Pragma_no_cache_forbids_swr()
    {
        var facts = Facts("max-age=60, stale-while-revalidate=30");
        Assert.False(HitDecision.CanServeWhileRevalidating(facts, Now, CacheControl.Empty, true, Now.AddSeconds(80), out _));
        Assert.True(HitDecision.CanServeWhileRevalidating(facts, Now, CacheControl.Parse("max-stale"), true, Now.AddSeconds(80), out _));
    }

    [Theory] // response stored at Now, lifetime 60 s; origin fails at Now + elapsed
    // rfc, response Cache-Control, request Cache-Control, operator default seconds (-1: none), elapsed, expected
    [InlineData("RFC 5861 4: response stale-if-error window", "max-age=60, stale-if-error=100", "", -1, 150, true)]
    [InlineData("RFC 5861 4: past the response window", "max-age=60, stale-if-error=100", "", -1, 161, false)]
    [InlineData("RFC 5861 4: no directive, no default", "max-age=60", "", -1, 61, false)]
    [InlineData("RFC 5861 4: request stale-if-error", "max-age=60", "stale-if-error=100", -1, 150, true)]
    [InlineData("RFC 5861 4: request window larger than response window", "max-age=60, stale-if-error=10", "stale-if-error=100", -1, 150, true)]
    [InlineData("RFC 5861 4: operator default ServeStaleOnErrorFor", "max-age=60", "", 300, 300, true)]
    [InlineData("RFC 5861 4: past the operator default", "max-age=60", "", 300, 361, false)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.2: must-revalidate forbids even within the window", "max-age=60, must-revalidate, stale-if-error=100", "", 300, 100, false)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.10: s-maxage forbids", "s-maxage=60, stale-if-error=100", "", -1, 100, false)]
    [InlineData("RFC 9111 4.2.4 / 5.2.2.4: response no-cache forbids", "max-age=60, no-cache, stale-if-error=100", "", -1, 100, false)]
    [InlineData("RFC 9111 5.2.1.4: request no-cache forbids", "max-age=60, stale-if-error=100", "no-cache", -1, 100, false)]
    [InlineData("RFC 5861 4: request no-cache with its own stale-if-error allows", "max-age=60", "no-cache, stale-if-error=100", -1, 100, true)]
    [InlineData("RFC 9111 5.2.1.1: request max-age=0 on a fresh entry, within the window", "max-age=60, stale-if-error=100", "stale-if-error=0, max-age=0", -1, 30, true)]
    [InlineData("RFC 9111 5.2.1.1: request max-age=0 without consent forbids", "max-age=60, stale-if-error=100", "max-age=0", -1, 30, false)]
    public void Stale_if_error(string rfc, string responseCc, string requestCc, int defaultSeconds, int elapsed, bool expected)
    {
        _ = rfc;
        var facts = Facts(responseCc);
        var rules = new FreshnessRules { ServeStaleOnErrorFor = defaultSeconds < 0 ? null : TimeSpan.FromSeconds(defaultSeconds) };
        Assert.Equal(expected, HitDecision.CanServeOnError(facts, Now, CacheControl.Parse(requestCc), false, rules, Now.AddSeconds(elapsed), out var s));
        Assert.Equal(TimeSpan.FromSeconds(elapsed - 60), s);
    }

    [Fact] // RFC 5861 with RFC 9213: the window can come from the targeted field
    public void Windows_from_a_targeted_field()
    {
        string[] h = ["Date", D(Now), "Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=600"];
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, h,
            CacheControl.ForSharedCache(h, CacheControl.DefaultTargetField), 1, Now, Now, FreshnessRules.Default, out var facts));
        Assert.Equal(TimeSpan.FromSeconds(30), facts.StaleWhileRevalidate);
        Assert.Equal(TimeSpan.FromSeconds(600), facts.StaleIfError);
    }

    [Fact] // RFC 9211 2.1/2.2/2.4: Cache-Status for stale responses
    public void Cache_status_for_stale()
    {
        Assert.Equal("C; hit; ttl=-20; detail=\"stale-while-revalidate\"", CacheStatus.StaleHit("C", TimeSpan.FromSeconds(-20)));
        Assert.Equal("C; fwd=stale; fwd-status=503; ttl=-20; detail=\"stale-if-error\"", CacheStatus.StaleOnError("C", 503, TimeSpan.FromSeconds(-20)));
    }
}
