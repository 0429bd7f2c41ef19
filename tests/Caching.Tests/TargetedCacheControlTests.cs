using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>RFC 9213 targeted cache-control fields; each row names the section it checks.</summary>
public class TargetedCacheControlTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private static string D(DateTimeOffset d) => HttpDate.Format(d);

    private static string[] Headers(string? cacheControl, string? cdn, string target = "CDN-Cache-Control", string? expires = null)
    {
        var h = new List<string> { "Date", D(Now) };
        if (cacheControl is not null) { h.Add("Cache-Control"); h.Add(cacheControl); }
        if (cdn is not null) { h.Add(target); h.Add(cdn); }
        if (expires is not null) { h.Add("Expires"); h.Add(expires); }
        return [.. h];
    }

    private static StoreVerdict Decide(string[] h, string? target, out FreshnessFacts facts) =>
        StoreDecision.Decide("GET", false, CacheControl.Empty, 200, h, CacheControl.ForSharedCache(h, target), 100, Now, Now,
            FreshnessRules.Default, out facts);

    [Theory]
    // rfc, Cache-Control, CDN-Cache-Control, expected verdict, expected lifetime seconds (-1: not stored)
    [InlineData("RFC 9213 3.1 example 1: CDN max-age wins over max-age/s-maxage", "max-age=60, s-maxage=120", "max-age=600", StoreVerdict.Store, 600)]
    [InlineData("RFC 9213 3.1 example 2: CDN stores although Cache-Control says no-store", "no-store", "max-age=600", StoreVerdict.Store, 600)]
    [InlineData("RFC 9213 3.1 example 3: no targeted field, Cache-Control no-store applies", "no-store", null, StoreVerdict.ResponseNoStore, -1)]
    [InlineData("RFC 9213 3.1 example 4: CDN-Cache-Control: none overrides no-store", "no-store", "none", StoreVerdict.NoFreshness, -1)]
    [InlineData("RFC 9213 2.1: targeted no-store wins over a permissive Cache-Control", "max-age=600", "no-store", StoreVerdict.ResponseNoStore, -1)]
    [InlineData("RFC 9213 2.1 + RFC 9111 5.2.2.7: targeted private", "public, max-age=600", "private", StoreVerdict.Private, -1)]
    [InlineData("RFC 9213 2.1 + RFC 9111 5.2.2.10: targeted s-maxage over targeted max-age", "max-age=5", "max-age=60, s-maxage=30", StoreVerdict.Store, 30)]
    [InlineData("RFC 9213 2.2 / RFC 8941 3.2: uppercase key is a parse error, field ignored", "max-age=60", "Max-Age=600", StoreVerdict.Store, 60)]
    [InlineData("RFC 9213 2.2 / RFC 8941 3.2: trailing comma is a parse error, field ignored", "max-age=60", "max-age=600,", StoreVerdict.Store, 60)]
    [InlineData("RFC 9213 2.2 / RFC 8941 3.3.1: integer of 16 digits is a parse error, field ignored", "max-age=60", "max-age=1234567890123456", StoreVerdict.Store, 60)]
    [InlineData("RFC 9213 2.1: empty targeted field is ignored", "max-age=60", "", StoreVerdict.Store, 60)]
    [InlineData("RFC 9213 2.2: string max-age is not consumed, marked invalid (stale)", "max-age=60", "max-age=\"600\"", StoreVerdict.NoFreshness, -1)]
    [InlineData("RFC 9213 2.2: negative max-age invalid (stale)", "max-age=60", "max-age=-1", StoreVerdict.NoFreshness, -1)]
    [InlineData("RFC 9213 2.2: parameters on directives are ignored", "no-store", "max-age=600;foo=bar", StoreVerdict.Store, 600)]
    [InlineData("RFC 8941 3.2: a repeated key keeps its last value", "no-store", "max-age=10, max-age=20", StoreVerdict.Store, 20)]
    [InlineData("RFC 9213 2.2: no-store=?0 is false", "no-store", "no-store=?0, max-age=600", StoreVerdict.Store, 600)]
    [InlineData("RFC 9213 2.2: max-age above 2^31 clamps (RFC 9111 1.2.2)", null, "max-age=999999999999999", StoreVerdict.Store, 2147483648L)]
    public void Targeted_field_replaces_cache_control(string rfc, string? cc, string? cdn, StoreVerdict expected, long lifetime)
    {
        _ = rfc;
        var verdict = Decide(Headers(cc, cdn), CacheControl.DefaultTargetField, out var facts);
        Assert.Equal(expected, verdict);
        if (lifetime >= 0) Assert.Equal(TimeSpan.FromSeconds(lifetime), facts.Lifetime);
    }

    [Fact] // RFC 9213 2.1: when the targeted field is used, Expires is ignored as well
    public void Targeted_field_ignores_expires()
    {
        var h = Headers(null, "must-revalidate", expires: D(Now.AddHours(1)));
        var cc = CacheControl.ForSharedCache(h, CacheControl.DefaultTargetField);
        Assert.True(cc.FromTargetedField);
        Assert.Null(Freshness.ExplicitLifetime(h, cc));
        // Without the targeted field, Expires counts.
        var plain = CacheControl.ForSharedCache(h, null);
        Assert.Equal(TimeSpan.FromHours(1), Freshness.ExplicitLifetime(h, plain));
    }

    [Theory] // RFC 9213 2.1: the target list is configurable and ordered; the first valid member wins
    [InlineData("RFC 9213 2.1: operator-named field", "CacheCluster-Cache-Control", "CacheCluster-Cache-Control", 300L)]
    [InlineData("RFC 9213 2.1: field names are case-insensitive", "cachecluster-cache-control", "CacheCluster-Cache-Control", 300L)]
    [InlineData("RFC 9213 2.1: a field not on the target list is ignored", "CDN-Cache-Control", "CacheCluster-Cache-Control", 60L)]
    [InlineData("RFC 9213 2.1: target list, first present field wins", "CacheCluster-Cache-Control, CDN-Cache-Control", "CacheCluster-Cache-Control", 300L)]
    [InlineData("RFC 9213 2.1: no target: Cache-Control", null, "CacheCluster-Cache-Control", 60L)]
    public void Configurable_target(string rfc, string? target, string sentField, long expectedMaxAge)
    {
        _ = rfc;
        var h = Headers("max-age=60", "max-age=300", sentField);
        Assert.Equal(expectedMaxAge, CacheControl.ForSharedCache(h, target).MaxAge);
    }

    [Fact] // RFC 9213 2.1: an invalid first target falls through to the next valid one
    public void Invalid_first_target_falls_through()
    {
        string[] h = ["Cache-Control", "max-age=1", "A-Cache-Control", "max-age=\"x", "B-Cache-Control", "max-age=7"];
        var cc = CacheControl.ForSharedCache(h, "A-Cache-Control, B-Cache-Control");
        Assert.Equal(7L, cc.MaxAge);
        Assert.Equal("B-Cache-Control", cc.TargetedFieldName);
    }

    [Fact] // RFC 9213 2.2: several field lines are combined into one dictionary
    public void Several_lines_form_one_dictionary()
    {
        string[] h = ["CDN-Cache-Control", "max-age=60", "CDN-Cache-Control", "stale-while-revalidate=30, no-cache=\"Set-Cookie\""];
        var cc = CacheControl.ForSharedCache(h, CacheControl.DefaultTargetField);
        Assert.Equal(60L, cc.MaxAge);
        Assert.Equal(30L, cc.StaleWhileRevalidate);
        Assert.Equal(["Set-Cookie"], cc.NoCacheFields);
        Assert.False(cc.NoCache);
    }

    [Theory] // RFC 9213 3: "CDN caches that use CDN-Cache-Control will typically forward" it but MAY remove it
    [InlineData("RFC 9213 3: default target", "CDN-Cache-Control", null, true)]
    [InlineData("RFC 9213 3: case-insensitive", "cdn-cache-control", null, true)]
    [InlineData("RFC 9213 2.1: configured target", "CacheCluster-Cache-Control", "CacheCluster-Cache-Control, CDN-Cache-Control", true)]
    [InlineData("RFC 9213 2.1: not targeted", "Cache-Control", "CDN-Cache-Control", false)]
    public void Is_targeted_field(string rfc, string name, string? targets, bool expected)
    {
        _ = rfc;
        Assert.Equal(expected, targets is null ? CacheControl.IsTargetedField(name) : CacheControl.IsTargetedField(name, targets));
    }

    [Theory] // RFC 8941 4.2: dictionary syntax
    [InlineData("RFC 8941 4.2.2: boolean member", "a", true)]
    [InlineData("RFC 8941 4.2.2: inner list with params", "a=(1 2);x, b=?1", true)]
    [InlineData("RFC 8941 4.2.5: string escapes", "a=\"x\\\"y\"", true)]
    [InlineData("RFC 8941 4.2.5: bad escape", "a=\"x\\y\"", false)]
    [InlineData("RFC 8941 4.2.7: byte sequence", "a=:aGk=:", true)]
    [InlineData("RFC 8941 4.2.4: decimal", "a=1.5", true)]
    [InlineData("RFC 8941 4.2.4: decimal with 4 fraction digits", "a=1.5555", false)]
    [InlineData("RFC 8941 4.2.2: garbage between members", "a=1 b=2", false)]
    [InlineData("RFC 8941 4.2.3.3: key starting with a digit", "1a=1", false)]
    public void Structured_dictionary_syntax(string rfc, string input, bool valid)
    {
        _ = rfc;
        Assert.Equal(valid, StructuredDictionary.TryParse(input, out _));
    }
}
