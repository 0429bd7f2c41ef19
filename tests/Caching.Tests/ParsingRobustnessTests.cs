using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>Odd and hostile header values (RFC 9111 1.2.2, 4.2.1, 4.2.3, 5.1-5.3).</summary>
public class ParsingRobustnessTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static string D(DateTimeOffset d) => HttpDate.Format(d);

    [Theory] // rfc, header, expected max-age (null: none), invalid
    [InlineData("RFC 9111 5.2: directive names are case-insensitive", "Max-Age=60", 60L, false)]
    [InlineData("RFC 9111 5.2: quoted-string value accepted", "max-age=\"60\"", 60L, false)]
    [InlineData("RFC 9111 5.2: no whitespace is allowed around '=': invalid (stale)", "max-age = 60", null, true)]
    [InlineData("RFC 9111 5.2: space before '=' is invalid", "max-age =60", null, true)]
    [InlineData("RFC 9111 5.2: space after '=' is invalid", "max-age= 60", null, true)]
    [InlineData("RFC 9111 5.2: max-age inside another directive's quoted value is not a max-age", "ext=\"max-age=600\", max-age=1", 1L, false)]
    [InlineData("RFC 9111 4.2.1: duplicate directive, first wins", "max-age=60, max-age=10", 60L, false)]
    [InlineData("RFC 9111 4.2.1: duplicate across field lines, first wins", "max-age=60\nmax-age=10", 60L, false)]
    [InlineData("RFC 9111 4.2.1: first occurrence invalid stays invalid (stale)", "max-age=x, max-age=60", null, true)]
    [InlineData("RFC 9111 1.2.2: 2^31 exactly", "max-age=2147483648", 2147483648L, false)]
    [InlineData("RFC 9111 1.2.2: 2^31 + 1 clamps", "max-age=2147483649", 2147483648L, false)]
    [InlineData("RFC 9111 1.2.2: 30 digits clamp", "max-age=123456789012345678901234567890", 2147483648L, false)]
    [InlineData("RFC 9111 1.2.2: leading zeros are not a huge number", "max-age=000000000000060", 60L, false)]
    [InlineData("RFC 9111 1.2.2: zero", "max-age=0", 0L, false)]
    [InlineData("RFC 9111 1.2.2: negative is invalid", "max-age=-60", null, true)]
    [InlineData("RFC 9111 1.2.2: plus sign is invalid", "max-age=+60", null, true)]
    [InlineData("RFC 9111 1.2.2: trailing garbage is invalid", "max-age=60s", null, true)]
    [InlineData("RFC 9111 1.2.2: hex is invalid", "max-age=0x10", null, true)]
    [InlineData("RFC 9111 1.2.2: empty quoted is invalid", "max-age=\"\"", null, true)]
    [InlineData("RFC 9111 1.2.2: non-ASCII digits are invalid", "max-age=٦٠", null, true)]
    public void Max_age_values(string rfc, string header, long? maxAge, bool invalid)
    {
        _ = rfc;
        var cc = CacheControl.Parse(header.Split('\n'));
        Assert.Equal(maxAge, cc.MaxAge);
        Assert.Equal(invalid, cc.MaxAgeInvalid);
    }

    [Theory] // an invalid freshness directive means stale (RFC 9111 4.2.1)
    [InlineData("RFC 9111 4.2.1: negative max-age is stale", "max-age=-1")]
    [InlineData("RFC 9111 4.2.1: garbage s-maxage is stale even with a valid max-age", "s-maxage=abc, max-age=600")]
    public void Invalid_freshness_is_stale(string rfc, string header)
    {
        _ = rfc;
        Assert.Equal(TimeSpan.Zero, Freshness.Lifetime(200, ["Date", D(Now)], CacheControl.Parse(header), FreshnessRules.Default, out _));
    }

    [Theory] // rfc, Cache-Control, status, expected
    [InlineData("RFC 9111 5.2.2.7: public and private: private wins for a shared cache", "public, private, max-age=60", 200, StoreVerdict.Private)]
    [InlineData("RFC 9111 5.2.2.7: private then public", "private, public, max-age=60", 200, StoreVerdict.Private)]
    [InlineData("RFC 9111 5.2.2.7: qualified private (field names) is storable", "private=\"Set-Cookie\", max-age=60", 200, StoreVerdict.Store)]
    [InlineData("RFC 9111 5.2.2.7: uppercase PRIVATE", "PRIVATE, max-age=60", 200, StoreVerdict.Private)]
    [InlineData("RFC 9111 5.2.2.3: must-understand + no-store, understood 200: stored", "must-understand, no-store, max-age=60", 200, StoreVerdict.Store)]
    [InlineData("RFC 9111 5.2.2.3: must-understand + no-store, understood 404: stored", "must-understand, no-store, max-age=60", 404, StoreVerdict.Store)]
    [InlineData("RFC 9111 5.2.2.3: must-understand, 302 with explicit freshness: stored", "must-understand, no-store, max-age=60", 302, StoreVerdict.Store)]
    [InlineData("RFC 9111 5.2.2.3: must-understand, 307 without explicit freshness: not stored", "must-understand, no-store, public", 307, StoreVerdict.MustUnderstand)]
    [InlineData("RFC 9111 5.2.2.3: must-understand, 201 not understood: not stored", "must-understand, no-store, max-age=60", 201, StoreVerdict.MustUnderstand)]
    [InlineData("RFC 9111 5.2.2.3: must-understand, 299 not understood: not stored", "must-understand, max-age=60", 299, StoreVerdict.MustUnderstand)]
    [InlineData("RFC 9111 5.2.2.3: must-understand, 206 understood but partial content is not stored here", "must-understand, max-age=60", 206, StoreVerdict.StatusNotCacheable)]
    [InlineData("RFC 9111 5.2.2.3: must-understand does not override private", "must-understand, private, max-age=60", 200, StoreVerdict.Private)]
    [InlineData("RFC 9111 5.2.2.5: no-store without must-understand", "no-store, max-age=60", 200, StoreVerdict.ResponseNoStore)]
    [InlineData("RFC 9111 3: 302 with explicit freshness is storable", "max-age=60", 302, StoreVerdict.Store)]
    public void Storage_edge_cases(string rfc, string cc, int status, StoreVerdict expected)
    {
        _ = rfc;
        var verdict = StoreDecision.Decide("GET", false, CacheControl.Empty, status, ["Date", D(Now)], CacheControl.Parse(cc), 100, Now, Now,
            FreshnessRules.Default, out _);
        Assert.Equal(expected, verdict);
    }

    [Theory] // rfc, header, NoCache (bare), field names
    [InlineData("RFC 9111 5.2.2.4: bare no-cache", "no-cache", true, "")]
    [InlineData("RFC 9111 5.2.2.4: qualified no-cache lists field names", "no-cache=\"Set-Cookie, X-A\"", false, "Set-Cookie,X-A")]
    [InlineData("RFC 9111 5.2.2.4: token form of qualified no-cache", "no-cache=Set-Cookie", false, "Set-Cookie")]
    [InlineData("RFC 9111 5.2.2.4: bare and qualified: bare wins", "no-cache=\"Set-Cookie\", no-cache", true, "Set-Cookie")]
    [InlineData("RFC 9111 5.2.2.4: empty qualified list acts as bare", "no-cache=\"\"", true, "")]
    [InlineData("RFC 9111 5.2: uppercase NO-CACHE", "NO-CACHE", true, "")]
    public void No_cache_forms(string rfc, string header, bool bare, string fields)
    {
        _ = rfc;
        var cc = CacheControl.Parse(header);
        Assert.Equal(bare, cc.NoCache);
        Assert.Equal(fields, string.Join(",", cc.NoCacheFields));
    }

    [Fact] // RFC 9111 5.2.2.4: a bare no-cache response is stored but every hit must revalidate
    public void No_cache_response_is_stored_but_never_fresh()
    {
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)],
            CacheControl.Parse("no-cache, max-age=60"), 100, Now, Now, FreshnessRules.Default, out var facts));
        Assert.True(facts.NoCache);
        Assert.Equal(HitVerdict.Stale, HitDecision.Evaluate(facts, Now, CacheControl.Empty, false, Now, out _, out _));
        // Qualified no-cache does not make the whole response stale.
        StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)],
            CacheControl.Parse("no-cache=\"Set-Cookie\", max-age=60"), 100, Now, Now, FreshnessRules.Default, out facts);
        Assert.False(facts.NoCache);
    }

    [Theory] // rfc, Expires values (| separated), expected lifetime seconds
    [InlineData("RFC 9111 5.3: Expires in the past is stale", "Sat, 21 Nov 2026 12:00:00 GMT", 0)]
    [InlineData("RFC 9111 5.3: Expires equal to Date is stale", "Sun, 22 Nov 2026 12:00:00 GMT", 0)]
    [InlineData("RFC 9111 5.3: Expires in the future", "Sun, 22 Nov 2026 13:00:00 GMT", 3600)]
    [InlineData("RFC 9111 5.3: \"0\" means already expired", "0", 0)]
    [InlineData("RFC 9111 5.3: \"-1\" means already expired", "-1", 0)]
    [InlineData("RFC 9111 5.3: empty means already expired", " ", 0)]
    [InlineData("RFC 9111 5.3: wrong zone means already expired", "Sun, 22 Nov 2026 13:00:00 PST", 0)]
    [InlineData("RFC 9110 5.6.7: obsolete RFC 850 form accepted", "Sunday, 22-Nov-26 13:00:00 GMT", 3600)]
    [InlineData("RFC 9111 4.2: a cache matches dates case-insensitively (weekday)", "SUN, 22 Nov 2026 13:00:00 GMT", 3600)]
    [InlineData("RFC 9111 4.2: a cache matches dates case-insensitively (month)", "Sun, 22 NOV 2026 13:00:00 GMT", 3600)]
    [InlineData("RFC 9111 4.2: a cache matches dates case-insensitively (zone)", "Sun, 22 Nov 2026 13:00:00 gMT", 3600)]
    [InlineData("RFC 9110 5.6.7: IMF-fixdate with a two-digit year is invalid", "Sun, 22 Nov 26 13:00:00 GMT", 0)]
    [InlineData("RFC 9110 5.6.7: one-digit hour is invalid", "Sun, 22 Nov 2026 3:00:00 GMT", 0)]
    [InlineData("RFC 9110 5.6.7: dashes in IMF-fixdate are invalid", "Sun, 22-Nov-2026 13:00:00 GMT", 0)]
    [InlineData("RFC 9111 4.2.1: two Expires lines are stale", "Sun, 22 Nov 2026 13:00:00 GMT|Sun, 22 Nov 2026 14:00:00 GMT", 0)]
    public void Expires_values(string rfc, string expires, int seconds)
    {
        _ = rfc;
        var h = new List<string> { "Date", D(Now) };
        foreach (var e in expires.Split('|')) { h.Add("Expires"); h.Add(e); }
        Assert.Equal(TimeSpan.FromSeconds(seconds), Freshness.Lifetime(200, [.. h], CacheControl.Empty, FreshnessRules.Default, out _));
    }

    [Fact] // RFC 9111 5.3: max-age overrides Expires, even an invalid one
    public void Max_age_overrides_expires()
    {
        string[] h = ["Date", D(Now), "Expires", "0"];
        Assert.Equal(TimeSpan.FromSeconds(60), Freshness.Lifetime(200, h, CacheControl.Parse("max-age=60"), FreshnessRules.Default, out _));
    }

    [Fact] // RFC 9110 6.6.1: a missing Date is taken as the time of receipt
    public void Expires_without_date_uses_response_time()
    {
        string[] h = ["Expires", D(Now.AddMinutes(10))];
        Assert.Equal(TimeSpan.FromMinutes(10), Freshness.Lifetime(200, h, CacheControl.Empty, FreshnessRules.Default, null, Now, out _));
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, h, CacheControl.Empty, 1, Now, Now,
            FreshnessRules.Default, out var facts));
        Assert.Equal(TimeSpan.FromMinutes(10), facts.Lifetime);
    }

    [Theory] // rfc, Age value, expected initial age seconds (Date = response time, no delay)
    [InlineData("RFC 9111 5.1: valid Age", "30", 30)]
    [InlineData("RFC 9111 5.1: garbage Age is ignored", "abc", 0)]
    [InlineData("RFC 9111 5.1: negative Age is ignored", "-30", 0)]
    [InlineData("RFC 9111 5.1: fractional Age is ignored", "1.5", 0)]
    [InlineData("RFC 9111 5.1: list-valued Age uses the first member", "30, 60", 30)]
    [InlineData("RFC 9111 5.1: list with invalid first member is ignored", "x, 60", 0)]
    [InlineData("RFC 9111 5.1 + 1.2.2: huge Age clamps to 2^31", "99999999999999999999", 2147483648L)]
    [InlineData("RFC 9111 5.1: surrounding whitespace", " 45 ", 45)]
    public void Age_values(string rfc, string age, long seconds)
    {
        _ = rfc;
        string[] h = ["Date", D(Now), "Age", age];
        Assert.Equal(TimeSpan.FromSeconds(seconds), Freshness.InitialAge(h, Now, Now));
    }

    [Fact] // RFC 9111 4.2.3: a huge Age makes a stored response stale at once, never an overflow
    public void Huge_age_makes_the_entry_stale()
    {
        string[] h = ["Date", D(Now), "ETag", "\"a\"", "Age", "99999999999999999999"];
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, h, CacheControl.Parse("max-age=3600"),
            1, Now, Now, FreshnessRules.Default, out var facts));
        Assert.Equal(TimeSpan.FromSeconds(CacheControl.MaxDeltaSeconds), facts.InitialAge);
        Assert.Equal(HitVerdict.Stale, HitDecision.Evaluate(facts, Now, CacheControl.Empty, false, Now, out _, out var ttl));
        Assert.Equal(TimeSpan.FromSeconds(3600 - CacheControl.MaxDeltaSeconds), ttl);
    }

    [Theory] // RFC 8246 2: immutable, lifetime 600 s, age 100 s
    [InlineData("RFC 8246 2: option off: request max-age=0 revalidates", false, true, "max-age=0", HitVerdict.Stale)]
    [InlineData("RFC 8246 2: option on: fresh immutable served despite max-age=0", true, true, "max-age=0", HitVerdict.Fresh)]
    [InlineData("RFC 8246 2: option on, response not immutable", true, false, "max-age=0", HitVerdict.Stale)]
    [InlineData("RFC 8246 2: option on: no-cache (forced reload) still revalidates", true, true, "no-cache", HitVerdict.Stale)]
    [InlineData("RFC 8246 2: option on: invalid request max-age also ignored", true, true, "max-age=x", HitVerdict.Fresh)]
    [InlineData("RFC 8246 2: option on: min-fresh still applies", true, true, "max-age=0, min-fresh=600", HitVerdict.Stale)]
    public void Immutable(string rfc, bool option, bool immutable, string reqCc, HitVerdict expected)
    {
        _ = rfc;
        var facts = new FreshnessFacts(TimeSpan.FromSeconds(600), TimeSpan.Zero, false, false, false, Immutable: immutable);
        var rules = new FreshnessRules { ImmutableIgnoresRequestMaxAge = option };
        Assert.Equal(expected, HitDecision.Evaluate(facts, Now, CacheControl.Parse(reqCc), false, Now.AddSeconds(100), rules, out _, out _));
    }

    [Fact] // RFC 8246 2: an immutable response that is stale is stale, option or not
    public void Stale_immutable_is_stale()
    {
        var facts = new FreshnessFacts(TimeSpan.FromSeconds(60), TimeSpan.Zero, false, false, false, Immutable: true);
        var rules = new FreshnessRules { ImmutableIgnoresRequestMaxAge = true };
        Assert.Equal(HitVerdict.Stale, HitDecision.Evaluate(facts, Now, CacheControl.Parse("max-age=0"), false, Now.AddSeconds(100), rules, out _, out _));
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)],
            CacheControl.Parse("max-age=60, IMMUTABLE"), 1, Now, Now, FreshnessRules.Default, out var stored));
        Assert.True(stored.Immutable);
    }

    [Theory] // RFC 9110 5.6.7: a two-digit RFC 850 year more than 50 years ahead is in the past century, else this one
    [InlineData("Thursday, 18-Aug-50 02:01:18 GMT", 2050)]
    [InlineData("Thursday, 18-Aug-94 02:01:18 GMT", 1994)]
    public void Rfc850_two_digit_years(string value, int year)
    {
        Assert.True(HttpDate.TryParse(value, out var d));
        // The rule is relative to now; these values stay on the same side of it until the 2040s.
        Assert.Equal(year, d.Year);
    }

    [Theory] // RFC 9111 5.2: a malformed qualified no-cache / private counts as the bare (stricter) directive
    [InlineData("no-cache =\"a\"")]
    [InlineData("no-cache= \"a\"")]
    public void Malformed_qualified_no_cache_is_bare(string header)
    {
        var cc = CacheControl.Parse(header);
        Assert.True(cc.NoCache);
        Assert.Empty(cc.NoCacheFields);
    }
}
