using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>The shipped package rules (issue 14): artifacts fresh for 90 days, their indexes revalidated on every use.</summary>
public class PackageRefreshRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
    private static readonly FreshnessRules Shipped = new() { Defaults = PackageRefreshRules.Rules };
    private static readonly TimeSpan NinetyDays = TimeSpan.FromDays(90);

    /// <summary>A response as package mirrors send it: Date only — no Cache-Control, Expires, Last-Modified or ETag.</summary>
    private static (StoreVerdict Verdict, TimeSpan Lifetime) Judge(string url, FreshnessRules rules, params string[] extra)
    {
        string[] headers = ["Date", HttpDate.Format(Now), .. extra];
        var verdict = StoreDecision.Decide("GET", false, CacheControl.Empty, 200, headers, CacheControl.Empty, 1000, Now, Now, rules, url, out var facts);
        return (verdict, facts.Lifetime);
    }

    [Theory]
    [InlineData("http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10+deb12u8_amd64.deb")]
    [InlineData("http://deb.debian.org/debian/pool/main/d/debian-installer/udebs/x.udeb")]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/0a1b2c3d4e5f")]
    [InlineData("http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1.orig.tar.gz")]
    [InlineData("http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10.dsc")]
    [InlineData("http://mirror.centos.org/9-stream/BaseOS/x86_64/os/Packages/bash-5.1.8-6.el9.x86_64.rpm")]
    [InlineData("http://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/busybox-1.36.1-r15.apk")]
    [InlineData("https://files.pythonhosted.org/packages/ab/cd/requests-2.31.0-py3-none-any.whl")]
    [InlineData("https://files.pythonhosted.org/packages/ab/cd/requests-2.31.0.tar.gz")]
    [InlineData("https://api.nuget.org/v3-flatcontainer/polly/8.4.0/polly.8.4.0.nupkg")]
    [InlineData("https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz")]
    [InlineData("https://repo1.maven.org/maven2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar")]
    [InlineData("https://cdimage.debian.org/debian-cd/current/amd64/iso-cd/debian-12.8.0-amd64-netinst.iso")]
    public void Artifacts_without_any_freshness_are_stored_for_90_days(string url)
    {
        var (verdict, lifetime) = Judge(url, Shipped);
        Assert.Equal(StoreVerdict.Store, verdict);
        Assert.Equal(NinetyDays, lifetime);
        // Without the shipped rules RFC 9111 alone stores nothing of it (the issue's "every .deb is a miss").
        Assert.NotEqual(StoreVerdict.Store, Judge(url, FreshnessRules.Default).Verdict);
    }

    [Theory]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/InRelease")]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/Release")]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/Release.gpg")]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.xz")]
    [InlineData("http://deb.debian.org/debian/dists/bookworm/main/i18n/Translation-en.bz2")]
    [InlineData("http://local.mirror/flat/Packages")]
    [InlineData("http://mirror.centos.org/9-stream/BaseOS/x86_64/os/repodata/repomd.xml")]
    [InlineData("http://dl-cdn.alpinelinux.org/alpine/v3.19/main/x86_64/APKINDEX.tar.gz")]
    [InlineData("https://repo1.maven.org/maven2/org/slf4j/slf4j-api/maven-metadata.xml")]
    [InlineData("https://repo.example.org/snapshots/org/x/lib/1.0-SNAPSHOT/lib-1.0-20261201.101010-3.jar")]
    public void Indexes_are_revalidated_on_every_use(string url)
    {
        // With a validator: stored, stale at once, so every use asks the mirror (a 304 keeps the stored copy).
        var (verdict, lifetime) = Judge(url, Shipped, "ETag", "\"v1\"");
        Assert.Equal(StoreVerdict.Store, verdict);
        Assert.Equal(TimeSpan.Zero, lifetime);
        // Without one there is nothing to revalidate with: fetched whole every time, as before.
        Assert.NotEqual(StoreVerdict.Store, Judge(url, Shipped).Verdict);
    }

    [Fact]
    public void The_origin_s_own_freshness_wins_and_other_urls_are_untouched()
    {
        const string deb = "http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1_amd64.deb";
        var explicitAge = StoreDecision.Decide("GET", false, CacheControl.Empty, 200, ["Date", HttpDate.Format(Now)],
            CacheControl.Parse("max-age=300"), 1000, Now, Now, Shipped, deb, out var facts);
        Assert.Equal(StoreVerdict.Store, explicitAge);
        Assert.Equal(TimeSpan.FromSeconds(300), facts.Lifetime);
        Assert.Null(Shipped.Match("http://example.org/index.html"));
        Assert.Null(Shipped.Match("http://example.org/download.php?file=x.deb&mirror=2")); // query after the name: not an artifact name
    }

    [Fact]
    public void Operator_rules_come_first()
    {
        var rules = new FreshnessRules { Rules = FreshnessRule.ParseAll([@"\.deb$ 0 0% 0"]), Defaults = PackageRefreshRules.Rules };
        Assert.Equal(TimeSpan.Zero, Judge("http://deb.debian.org/debian/pool/main/c/curl/curl_1_amd64.deb", rules).Lifetime);
    }
}
