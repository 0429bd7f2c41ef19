using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

public class FreshnessTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static string D(DateTimeOffset d) => HttpDate.Format(d);

    [Fact] // RFC 9111 4.2.1: s-maxage over max-age over Expires
    public void S_maxage_wins_for_a_shared_cache()
    {
        string[] h = ["Date", D(Now), "Expires", D(Now.AddHours(1))];
        Assert.Equal(TimeSpan.FromSeconds(10), Freshness.Lifetime(200, h, CacheControl.Parse("max-age=60, s-maxage=10"), FreshnessRules.Default, out _));
        Assert.Equal(TimeSpan.FromSeconds(60), Freshness.Lifetime(200, h, CacheControl.Parse("max-age=60"), FreshnessRules.Default, out _));
        Assert.Equal(TimeSpan.FromHours(1), Freshness.Lifetime(200, h, CacheControl.Empty, FreshnessRules.Default, out _));
    }

    [Theory] // RFC 9111 5.3: an invalid Expires means already expired
    [InlineData("0")]
    [InlineData("yesterday")]
    public void Invalid_expires_is_stale(string expires)
    {
        string[] h = ["Date", D(Now), "Expires", expires];
        Assert.Equal(TimeSpan.Zero, Freshness.Lifetime(200, h, CacheControl.Empty, FreshnessRules.Default, out _));
    }

    [Fact] // RFC 9110 5.6.7: the obsolete date forms are accepted
    public void Obsolete_date_formats_parse()
    {
        Assert.True(HttpDate.TryParse("Sunday, 06-Nov-94 08:49:37 GMT", out var a));
        Assert.True(HttpDate.TryParse("Sun Nov  6 08:49:37 1994", out var b));
        Assert.True(HttpDate.TryParse("Sun, 06 Nov 1994 08:49:37 GMT", out var c));
        Assert.Equal(c, a);
        Assert.Equal(c, b);
    }

    [Fact] // RFC 9111 4.2.2: heuristic freshness is a fraction of the time since Last-Modified, capped
    public void Heuristic_freshness_from_last_modified()
    {
        string[] h = ["Date", D(Now), "Last-Modified", D(Now.AddHours(-10))];
        var life = Freshness.Lifetime(200, h, CacheControl.Empty, FreshnessRules.Default, out var heuristic);
        Assert.True(heuristic);
        Assert.Equal(TimeSpan.FromHours(1), life);
        Assert.Null(Freshness.Lifetime(201, h, CacheControl.Empty, FreshnessRules.Default, out _));
    }

    [Fact] // RFC 9111 4.2.3: the age includes upstream Age and the response delay
    public void Initial_age_uses_upstream_age_and_delay()
    {
        string[] h = ["Date", D(Now), "Age", "30"];
        var age = Freshness.InitialAge(h, Now, Now.AddSeconds(2));
        Assert.Equal(TimeSpan.FromSeconds(32), age);
        Assert.Equal(TimeSpan.FromSeconds(42), Freshness.CurrentAge(age, Now.AddSeconds(2), Now.AddSeconds(12)));
    }

    [Theory] // RFC 9111 3: what a shared cache may store
    [InlineData("GET", false, "", "max-age=60", 200, StoreVerdict.Store)]
    [InlineData("POST", false, "", "max-age=60", 200, StoreVerdict.MethodNotCacheable)]
    [InlineData("GET", false, "", "no-store, max-age=60", 200, StoreVerdict.ResponseNoStore)]
    [InlineData("GET", false, "no-store", "max-age=60", 200, StoreVerdict.RequestNoStore)]
    [InlineData("GET", false, "", "private, max-age=60", 200, StoreVerdict.Private)]
    [InlineData("GET", true, "", "max-age=60", 200, StoreVerdict.Authorization)]
    [InlineData("GET", true, "", "public, max-age=60", 200, StoreVerdict.Store)]
    [InlineData("GET", true, "", "s-maxage=60", 200, StoreVerdict.Store)]
    [InlineData("GET", false, "", "", 200, StoreVerdict.NoFreshness)]
    [InlineData("GET", false, "", "max-age=60", 201, StoreVerdict.Store)]
    [InlineData("GET", false, "", "", 201, StoreVerdict.StatusNotCacheable)]
    [InlineData("GET", false, "", "max-age=60", 206, StoreVerdict.StatusNotCacheable)]
    public void Store_decision(string method, bool auth, string reqCc, string respCc, int status, StoreVerdict expected)
    {
        string[] h = ["Date", D(Now)];
        var verdict = StoreDecision.Decide(method, auth, CacheControl.Parse(reqCc), status, h, CacheControl.Parse(respCc), 100, Now, Now, FreshnessRules.Default, out _);
        Assert.Equal(expected, verdict);
    }

    [Fact]
    public void Too_large_is_not_stored()
    {
        var rules = new FreshnessRules { MaxObjectBytes = 1000 };
        Assert.Equal(StoreVerdict.TooLarge, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)],
            CacheControl.Parse("max-age=60"), 1001, Now, Now, rules, out _));
    }

    [Theory] // RFC 9111 5.2.1: request directives against a stored response that is 100 s old, lifetime 60 s
    [InlineData("", false, HitVerdict.Stale)]
    [InlineData("max-stale", false, HitVerdict.StaleAllowed)]
    [InlineData("max-stale=50", false, HitVerdict.StaleAllowed)]
    [InlineData("max-stale=10", false, HitVerdict.Stale)]
    [InlineData("max-stale", true, HitVerdict.Stale)] // must-revalidate forbids serving stale
    public void Stale_entries(string reqCc, bool mustRevalidate, HitVerdict expected)
    {
        var facts = new FreshnessFacts(TimeSpan.FromSeconds(60), TimeSpan.Zero, false, false, mustRevalidate);
        Assert.Equal(expected, HitDecision.Evaluate(facts, Now, CacheControl.Parse(reqCc), false, Now.AddSeconds(100), out _, out _));
    }

    [Theory] // a stored response that is 30 s old, lifetime 60 s
    [InlineData("", false, HitVerdict.Fresh)]
    [InlineData("max-age=10", false, HitVerdict.Stale)]
    [InlineData("min-fresh=40", false, HitVerdict.Stale)]
    [InlineData("no-cache", false, HitVerdict.Stale)]
    [InlineData("", true, HitVerdict.Stale)]           // Pragma: no-cache without Cache-Control
    [InlineData("max-age=100", true, HitVerdict.Fresh)] // Pragma ignored when Cache-Control is present
    public void Fresh_entries_and_request_directives(string reqCc, bool pragma, HitVerdict expected)
    {
        var facts = new FreshnessFacts(TimeSpan.FromSeconds(60), TimeSpan.Zero, false, false, false);
        Assert.Equal(expected, HitDecision.Evaluate(facts, Now, CacheControl.Parse(reqCc), pragma, Now.AddSeconds(30), out var age, out var ttl));
        Assert.Equal(TimeSpan.FromSeconds(30), age);
        Assert.Equal(TimeSpan.FromSeconds(30), ttl);
    }
}
