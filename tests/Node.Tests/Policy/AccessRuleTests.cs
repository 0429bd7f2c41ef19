using System.Diagnostics;
using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Policy;

/// <summary>The access rule engine on its own: syntax, first match wins, every condition, run-time replacement.</summary>
public class AccessRuleTests
{
    private static AccessRuleSet Compile(params string[] lines) =>
        AccessRuleSet.Compile(lines, 1, p => Path.GetFullPath(p), out var errors) ?? throw new Exception(string.Join("\n", errors));

    private static AccessRequest Req(string client, string host = "www.example.com", string method = "GET", int port = 80,
        string? user = null, string[]? groups = null, string? url = null, DateTime? at = null) =>
        new(IPAddress.Parse(client), host, port, method, url ?? $"http://{host}:{port}/", user,
            groups is null ? null : new HashSet<string>(groups), at ?? new DateTime(2026, 11, 23, 10, 0, 0)); // a Monday, 10:00

    // A campus policy: staff may go anywhere on web ports, students not to a blocked list, nobody to the admin host,
    // CONNECT only to 443, guests (user) only GET. The expected rule is the one that decides.
    private static readonly AccessRuleSet Campus = Compile(
        "deny name=no-admin dstdomain=admin.campus.test",
        "deny name=connect-443-only method=CONNECT !port=443",
        "deny name=not-web-ports !port=80,443,8080-8089",
        "allow name=staff group=staff",
        "deny name=blocked-for-students dstdomain=.games.test,casino.test",
        "deny name=guest-read-only proxy_auth=guest !method=GET,HEAD",
        "allow name=campus-users src=10.0.0.0/8,2001:db8::/32 proxy_auth=*",
        "deny name=rest all");

    [Theory]
    // client         host                  method     port  user      groups   -> verdict, rule
    [InlineData("10.1.2.3", "www.example.com", "GET", 80, "alice", "staff", "Allow", "staff")]
    [InlineData("10.1.2.3", "admin.campus.test", "GET", 80, "alice", "staff", "Deny", "no-admin")]
    [InlineData("10.1.2.3", "x.admin.campus.test", "GET", 80, "alice", "staff", "Allow", "staff")] // exact entry: no subdomains
    [InlineData("10.1.2.3", "www.example.com", "CONNECT", 443, "alice", "staff", "Allow", "staff")]
    [InlineData("10.1.2.3", "www.example.com", "CONNECT", 22, "alice", "staff", "Deny", "connect-443-only")]
    [InlineData("10.1.2.3", "www.example.com", "GET", 8085, "bob", "", "Allow", "campus-users")]
    [InlineData("10.1.2.3", "www.example.com", "GET", 25, "alice", "staff", "Deny", "not-web-ports")]
    [InlineData("10.1.2.3", "games.test", "GET", 80, "bob", "", "Deny", "blocked-for-students")]        // .suffix matches the domain itself
    [InlineData("10.1.2.3", "www.games.test", "GET", 80, "bob", "", "Deny", "blocked-for-students")]
    [InlineData("10.1.2.3", "biggames.test", "GET", 80, "bob", "", "Allow", "campus-users")]             // not a label boundary
    [InlineData("10.1.2.3", "www.casino.test", "GET", 80, "bob", "", "Allow", "campus-users")]          // exact entry
    [InlineData("10.1.2.3", "www.games.test", "GET", 80, "alice", "staff", "Allow", "staff")]
    [InlineData("10.1.2.3", "www.example.com", "POST", 80, "guest", "", "Deny", "guest-read-only")]
    [InlineData("10.1.2.3", "www.example.com", "GET", 80, "guest", "", "Allow", "campus-users")]
    [InlineData("192.0.2.7", "www.example.com", "GET", 80, "bob", "", "Deny", "rest")]                  // outside the campus
    [InlineData("2001:db8::5", "www.example.com", "GET", 443, "bob", "", "Allow", "campus-users")]
    [InlineData("2001:db9::5", "www.example.com", "GET", 443, "bob", "", "Deny", "rest")]
    [InlineData("10.1.2.3", "www.example.com", "GET", 80, null, null, "Challenge", "staff")]            // needs a user: 407
    public void Rule_matrix(string client, string host, string method, int port, string? user, string? groups, string verdict, string rule)
    {
        var d = Campus.Evaluate(Req(client, host, method, port, user, groups?.Split(',', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal((verdict, rule), (d.Verdict.ToString(), d.RuleName));
    }

    [Fact]
    public void Defaults_allow_only_loopback_and_private_clients()
    {
        var rules = Compile([.. AccessRuleSet.DefaultLines]);
        foreach (var ok in new[] { "127.0.0.1", "::1", "10.9.8.7", "172.20.0.1", "192.168.1.1", "fd12::1" })
            Assert.True(rules.Evaluate(Req(ok)).Allowed, ok);
        foreach (var bad in new[] { "8.8.8.8", "172.32.0.1", "2001:4860::1", "100.64.0.1" })
        {
            var d = rules.Evaluate(Req(bad));
            Assert.False(d.Allowed, bad);
            Assert.Equal("default-deny", d.RuleName);
        }
    }

    [Fact]
    public void Without_authentication_rules_naming_users_are_skipped()
    {
        var rules = Compile("allow name=alice proxy_auth=alice", "allow name=lan src=127.0.0.0/8");
        Assert.Equal(AccessVerdict.Challenge, rules.Evaluate(Req("127.0.0.1")).Verdict);
        var d = rules.Evaluate(Req("127.0.0.1"), canChallenge: false);
        Assert.Equal((AccessVerdict.Allow, "lan"), (d.Verdict, d.RuleName));
    }

    [Fact]
    public void No_matching_rule_denies()
    {
        var d = Compile("allow src=10.0.0.0/8").Evaluate(Req("127.0.0.1"));
        Assert.Equal((AccessVerdict.Deny, "no-rule-matched", 0), (d.Verdict, d.RuleName, d.RuleIndex));
    }

    [Fact]
    public void Url_regex_time_and_days()
    {
        var rules = Compile(
            @"deny name=no-exe url_regex=\.exe$",
            "deny name=night time=22:00-06:00",
            "deny name=weekend days=Sat,Sun",
            "allow name=ok all");
        Assert.Equal("no-exe", rules.Evaluate(Req("10.0.0.1", url: "http://x.test/setup.exe")).RuleName);
        Assert.Equal("ok", rules.Evaluate(Req("10.0.0.1", url: "http://x.test/setup.exe.txt")).RuleName);
        Assert.Equal("night", rules.Evaluate(Req("10.0.0.1", at: new DateTime(2026, 11, 23, 23, 30, 0))).RuleName);
        Assert.Equal("night", rules.Evaluate(Req("10.0.0.1", at: new DateTime(2026, 11, 23, 5, 59, 0))).RuleName);
        Assert.Equal("ok", rules.Evaluate(Req("10.0.0.1", at: new DateTime(2026, 11, 23, 6, 0, 0))).RuleName);
        Assert.Equal("weekend", rules.Evaluate(Req("10.0.0.1", at: new DateTime(2026, 11, 22, 12, 0, 0))).RuleName); // Sunday
    }

    [Fact]
    public void A_url_regex_the_linear_time_engine_cannot_run_is_a_config_error()
    {
        Assert.Null(AccessRuleSet.Compile([@"deny name=evil url_regex=^(a+)+\1b$"], 1, p => p, out var errors));
        Assert.Contains("linear-time", Assert.Single(errors));
        Assert.Null(AccessRuleSet.Compile([@"deny url_regex=(?<=x)y"], 1, p => p, out errors));
        Assert.Contains("lookarounds", Assert.Single(errors));
    }

    [Fact]
    public void A_catastrophic_url_regex_costs_linear_time()
    {
        // ^(a+)+b$ against aaaa…! is exponential for a backtracking engine; the rule must still decide, quickly.
        var rules = Compile(@"deny name=evil url_regex=^(a+)+b$", "allow name=ok all");
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
        {
            var d = rules.Evaluate(Req("10.0.0.1") with { Url = new string('a', 5000) + "!" });
            Assert.Equal("ok", d.RuleName);
            Assert.Null(d.Note);
        }
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"20 matches took {sw.Elapsed}");
    }

    [Fact]
    public void A_domain_list_file_of_many_thousands_entries_is_fast()
    {
        var file = Path.Combine(TempDir.Create("domains"), "blocked.txt");
        var lines = new List<string> { "# blocked sites" };
        for (int i = 0; i < 100_000; i++) lines.Add(i % 2 == 0 ? $"site{i}.example" : $".zone{i}.example  # whole zone");
        File.WriteAllLines(file, lines);
        var rules = AccessRuleSet.Compile([$"deny name=blocked dstdomain=\"{file}\"", "allow name=ok all"], 1, p => p, out var errors);
        Assert.Empty(errors);
        Assert.Equal("blocked", rules!.Evaluate(Req("10.0.0.1", "site500.example")).RuleName);
        Assert.Equal("blocked", rules.Evaluate(Req("10.0.0.1", "a.b.zone501.example")).RuleName);
        Assert.Equal("ok", rules.Evaluate(Req("10.0.0.1", "a.site500.example")).RuleName);
        Assert.Equal("ok", rules.Evaluate(Req("10.0.0.1", "zone500.example")).RuleName);
        var sw = Stopwatch.StartNew();
        int denied = 0;
        for (int i = 0; i < 200_000; i++)
            if (!rules.Evaluate(Req("10.0.0.1", $"www.host{i % 1000}.zone{i % 5000}.example")).Allowed) denied++;
        Assert.Equal(100_000, denied); // odd zones are listed
        // Generous bound for a loaded 2-core machine: a linear scan of 100k entries per lookup would take minutes.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"200k lookups took {sw.Elapsed}");
    }

    [Fact]
    public void Keys_mean_what_they_mean_in_squid()
    {
        // dst: the destination's address (literal, or resolved by the node before the rules run); dstdomain: its name.
        var rules = Compile("deny name=lab dst=192.0.2.0/24", "deny name=games dstdomain=.games.test", "allow name=ok all");
        Assert.Equal("lab", rules.Evaluate(Req("10.0.0.1", "192.0.2.7") with { DestinationAddresses = [IPAddress.Parse("192.0.2.7")] }).RuleName);
        Assert.Equal("lab", rules.Evaluate(Req("10.0.0.1", "lab.example") with { DestinationAddresses = [IPAddress.Parse("192.0.2.9")] }).RuleName);
        Assert.Equal("ok", rules.Evaluate(Req("10.0.0.1", "unresolvable.example") with { DestinationAddresses = [] }).RuleName);
        Assert.Equal("games", rules.Evaluate(Req("10.0.0.1", "www.games.test") with { DestinationAddresses = [IPAddress.Parse("198.51.100.1")] }).RuleName);
        Assert.True(rules.UsesDestinationAddress);
        Assert.Equal("any", Compile("allow name=any proxy_auth=REQUIRED").Evaluate(Req("10.0.0.1", user: "carol")).RuleName);
    }

    [Theory]
    [InlineData("deny dst=games.test", "'games.test' is not an address or CIDR network", "for a domain write dstdomain=games.test")]
    [InlineData("deny dst-file=/etc/blocked.txt", "'dst-file=' is now spelled as in Squid", "dstdomain=\"/etc/blocked.txt\"")]
    [InlineData("deny url=\\.exe$", "'url=' is now spelled as in Squid", "url_regex=\\.exe$")]
    [InlineData("allow user=alice", "'user=' is now spelled as in Squid", "proxy_auth=alice")]
    public void Old_spellings_are_refused_with_the_squid_one_named(string line, string error, string pointer)
    {
        Assert.Null(AccessRuleSet.Compile([line], 1, p => p, out var errors));
        Assert.Contains(error, errors.Single());
        Assert.Contains(pointer, errors.Single());
    }

    [Fact]
    public void Bad_lines_are_reported_with_their_index()
    {
        Assert.Null(AccessRuleSet.Compile(["allow src=10.0.0.0/8", "permit all", "deny port=99999", "deny url_regex=(", "deny colour=red", "deny time=25:00-26:00"],
            1, p => p, out var errors));
        Assert.Collection(errors,
            e => Assert.StartsWith("1: 'permit' must be 'allow' or 'deny'", e),
            e => Assert.StartsWith("2: '99999' is not a port", e),
            e => Assert.StartsWith("3: '(' is not a regular expression", e),
            e => Assert.StartsWith("4: unknown condition 'colour'", e),
            e => Assert.StartsWith("5: '25:00-26:00' is not a time window", e));
    }

    [Fact]
    public void Configuration_errors_name_the_rule_key()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Access:Rules:0"] = "allow src=10.0.0.0/8",
            ["Access:Rules:1"] = "allow src=not-a-network",
            ["Guard:AllowLoopbak"] = "true",
            ["Privacy:XForwardedFor"] = "sometimes",
            ["Limits:ClientRequestsPerSecond"] = "-1",
            ["Auth:HtpasswdFile"] = "/nonexistent/htpasswd",
        }).Build();
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeSettings.Load(config, "/tmp"));
        Assert.Contains(ex.Errors, e => e.StartsWith("Access:Rules:1: 'not-a-network' is not an address or CIDR network"));
        Assert.Contains(ex.Errors, e => e.StartsWith("Guard:AllowLoopbak: unknown setting"));
        Assert.Contains(ex.Errors, e => e.StartsWith("Privacy:XForwardedFor: 'sometimes' is not one of On, Off, Delete, Truncate"));
        Assert.Contains(ex.Errors, e => e.StartsWith("Limits:ClientRequestsPerSecond: '-1' must be a whole number"));
        Assert.Contains(ex.Errors, e => e.StartsWith("Auth:HtpasswdFile: '/nonexistent/htpasswd' does not exist"));
    }

    [Fact]
    public void Replace_swaps_the_whole_set_or_nothing()
    {
        var policy = new AccessPolicy(AccessRuleSet.DefaultLines, p => p);
        var before = policy.Current;
        Assert.True(policy.Evaluate(Req("127.0.0.1")).Allowed);

        var errors = policy.Replace(["deny name=lockdown all", "allow src=nonsense"]);
        Assert.Single(errors);
        Assert.Same(before, policy.Current); // a bad set changes nothing

        AccessRuleSet? seen = null;
        policy.Replaced += s => seen = s;
        Assert.Empty(policy.Replace(["deny name=lockdown all"]));
        Assert.Equal(before.Version + 1, policy.Current.Version);
        Assert.Same(policy.Current, seen);
        Assert.Equal("lockdown", policy.Evaluate(Req("127.0.0.1")).RuleName);
        Assert.Equal(["deny name=lockdown all"], policy.Current.Lines);

        Assert.Empty(policy.Replace([])); // empty: back to the defaults
        Assert.True(policy.Evaluate(Req("127.0.0.1")).Allowed);
    }
}
