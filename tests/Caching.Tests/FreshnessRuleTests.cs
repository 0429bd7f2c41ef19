using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>Operator refresh rules (Squid refresh_pattern semantics on top of RFC 9111 4.2).</summary>
public class FreshnessRuleTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static string D(DateTimeOffset d) => HttpDate.Format(d);
    private const string Iso = "http://example.org/dist/disk.iso";

    private static FreshnessRules Rules(params string[] lines) => new() { Rules = FreshnessRule.ParseAll(lines) };

    [Fact]
    public void Parses_squid_syntax()
    {
        var r = FreshnessRule.Parse(@"-i ^https?://.*\.iso$ 1440 20% 10080 override-expire override-lastmod ignore-no-store ignore-private");
        Assert.True(r.Matches("HTTP://EXAMPLE.ORG/A.ISO"));
        Assert.Equal(TimeSpan.FromDays(1), r.Min);
        Assert.Equal(20.0, r.Percent);
        Assert.Equal(TimeSpan.FromDays(7), r.Max);
        Assert.True(r.OverrideExpire && r.OverrideLastModified && r.IgnoreNoStore && r.IgnorePrivate);
        Assert.False(FreshnessRule.Parse(@"^https?://.*\.iso$ 0 20% 10").Matches("http://x/A.ISO")); // case-sensitive without -i
    }

    [Theory] // errors name the bad token
    [InlineData(@"^x 1440 20%", "expected")]
    [InlineData(@"^x abc 20% 10", "bad min 'abc'")]
    [InlineData(@"^x -5 20% 10", "bad min '-5'")]
    [InlineData(@"^x 1 twenty% 10", "bad percent 'twenty%'")]
    [InlineData(@"^x 1 20% 1.5", "bad max '1.5'")]
    [InlineData(@"^x 1 20% 10 reload-into-ims", "unknown option 'reload-into-ims'")]
    [InlineData(@"([a-z 1 20% 10", "bad regex '([a-z'")]
    [InlineData(@"(a)\1 1 20% 10", "linear-time regex engine does not support")] // a backreference
    [InlineData(@"x(?=y) 1 20% 10", "linear-time regex engine does not support")] // a lookahead
    public void Parse_errors_name_the_token(string line, string expected)
    {
        var ex = Assert.Throws<FormatException>(() => FreshnessRule.Parse(line));
        Assert.Contains(expected, ex.Message);
        Assert.False(FreshnessRule.TryParse(line, out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void A_crafted_url_costs_linear_time()
    {
        // ^(a+)+b$ is exponential for a backtracking engine (each try would run into the 100 ms timeout).
        var rule = FreshnessRule.Parse(@"^(a+)+b$ 1 20% 10");
        var url = new string('a', 5000) + "!";
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++) Assert.False(rule.Matches(url));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"20 matches took {sw.Elapsed}");
    }

    [Fact]
    public void First_matching_rule_wins_and_comments_are_skipped()
    {
        var rules = Rules("# comment", "", @"\.iso$ 10 20% 100", @". 0 20% 4320");
        Assert.Equal(TimeSpan.FromMinutes(10), rules.Match(Iso)!.Min);
        Assert.Equal(TimeSpan.Zero, rules.Match("http://example.org/")!.Min);
        Assert.Null(Rules(@"\.iso$ 10 20% 100").Match("http://example.org/"));
        Assert.Null(rules.Match(null));
    }

    [Theory] // lifetime under the rule `\.iso$ 60 20% 600 [option]`, Date = now
    // rfc, Cache-Control, Last-Modified hours before Date (-1: none), Expires minutes after Date (null: none), option, expected minutes (-1: null), heuristic
    [InlineData("RFC 9111 4.2.2 + rule: percent of (Date - Last-Modified)", "", 10, null, "", 120.0, true)]
    [InlineData("RFC 9111 4.2.2 + rule: capped at max", "", 100, null, "", 600.0, true)]
    [InlineData("RFC 9111 4.2.2 + rule: recent Last-Modified below min stays below (Squid)", "", 1, null, "", 12.0, true)]
    [InlineData("RFC 9111 4.2.2 + rule override-lastmod: raised to min", "", 1, null, "override-lastmod", 60.0, true)]
    [InlineData("RFC 9111 4.2.2 + rule: no Last-Modified gives min", "", -1, null, "", 60.0, true)]
    [InlineData("RFC 9111 4.2.1: explicit max-age used as sent, not capped by max", "max-age=60000", 10, null, "", 1000.0, false)]
    [InlineData("RFC 9111 4.2.1: explicit max-age below min stays without override", "max-age=60", 10, null, "", 1.0, false)]
    [InlineData("RFC 9111 4.2.1 + override-expire: max-age raised to min", "max-age=60", 10, null, "override-expire", 60.0, false)]
    [InlineData("RFC 9111 5.3 + override-expire: Expires raised to min", "", -1, 5, "override-expire", 60.0, false)]
    [InlineData("RFC 9111 5.3 + override-expire: longer Expires kept", "", -1, 6000, "override-expire", 6000.0, false)]
    [InlineData("RFC 9111 4.2.1 + override-expire: invalid max-age (stale) raised to min", "max-age=x", -1, null, "override-expire", 60.0, false)]
    public void Lifetime_under_a_rule(string rfc, string cc, int lmHours, int? expiresMinutes, string option, double expectedMinutes, bool expectHeuristic)
    {
        _ = rfc;
        var h = new List<string> { "Date", D(Now) };
        if (lmHours >= 0) { h.Add("Last-Modified"); h.Add(D(Now.AddHours(-lmHours))); }
        if (expiresMinutes is int e) { h.Add("Expires"); h.Add(D(Now.AddMinutes(e))); }
        var rules = Rules($@"\.iso$ 60 20% 600 {option}");
        var life = Freshness.Lifetime(200, [.. h], CacheControl.Parse(cc), rules, Iso, Now, out var heuristic);
        Assert.Equal(TimeSpan.FromMinutes(expectedMinutes), life);
        Assert.Equal(expectHeuristic, heuristic);
    }

    [Fact] // RFC 9111 4.2.2: heuristics only for heuristically cacheable statuses, rule or not
    public void Rule_does_not_make_uncacheable_status_heuristic()
    {
        var rules = Rules(@". 60 20% 600");
        Assert.Null(Freshness.Lifetime(201, ["Date", D(Now)], CacheControl.Empty, rules, Iso, Now, out _));
        Assert.Null(Freshness.Lifetime(200, ["Date", D(Now)], CacheControl.Empty, Rules(@". 0 20% 600"), Iso, Now, out _));
    }

    [Fact] // Rules fall back to HeuristicFraction/HeuristicMax when no rule matches
    public void No_matching_rule_uses_defaults()
    {
        string[] h = ["Date", D(Now), "Last-Modified", D(Now.AddHours(-10))];
        Assert.Equal(TimeSpan.FromHours(1), Freshness.Lifetime(200, h, CacheControl.Empty, Rules(@"\.iso$ 60 50% 600"), "http://x/a.html", Now, out _));
    }

    [Theory] // RFC 9111 3 / 5.2.2.5 / 5.2.2.7: no-store and private are only overridden by name
    [InlineData("RFC 9111 5.2.2.5: no-store honoured", "no-store, max-age=60", "", StoreVerdict.ResponseNoStore)]
    [InlineData("RFC 9111 5.2.2.5 + ignore-no-store", "no-store, max-age=60", "ignore-no-store", StoreVerdict.Store)]
    [InlineData("RFC 9111 5.2.2.5: override-expire does not override no-store", "no-store, max-age=60", "override-expire", StoreVerdict.ResponseNoStore)]
    [InlineData("RFC 9111 5.2.2.7: private honoured", "private, max-age=60", "ignore-no-store", StoreVerdict.Private)]
    [InlineData("RFC 9111 5.2.2.7 + ignore-private", "private, max-age=60", "ignore-private", StoreVerdict.Store)]
    [InlineData("RFC 9111 3 + rule: no explicit freshness, no Last-Modified: min", "", "", StoreVerdict.Store)]
    public void Store_decision_with_rules(string rfc, string cc, string option, StoreVerdict expected)
    {
        _ = rfc;
        var rules = Rules($@"\.iso$ 60 20% 600 {option}");
        var verdict = StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)], CacheControl.Parse(cc), 100, Now, Now,
            rules, Iso, out var facts);
        Assert.Equal(expected, verdict);
        // The same response for a URL no rule matches is judged without the rule.
        if (option.StartsWith("ignore"))
            Assert.NotEqual(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", D(Now)],
                CacheControl.Parse(cc), 100, Now, Now, rules, "http://x/a.html", out _));
        if (expected == StoreVerdict.Store && cc == "") Assert.Equal(TimeSpan.FromMinutes(60), facts.Lifetime);
    }
}
