using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

public class WithheldFieldsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Theory] // rfc, Cache-Control, fields expected gone (comma separated)
    [InlineData("RFC 9111 5.2.2.7: private=\"a\" withholds a", "private=\"a\", max-age=60", "a")]
    [InlineData("RFC 9111 5.2.2.4: no-cache=\"a, b\" withholds a and b", "no-cache=\"a, B\", max-age=60", "a,b")]
    [InlineData("RFC 9111 5.2.2.4: field names are case-insensitive", "no-cache=\"A\"", "a")]
    public void Listed_fields_are_not_stored(string rfc, string cacheControl, string gone)
    {
        _ = rfc;
        string[] headers = ["Cache-Control", cacheControl, "a", "1", "b", "2", "c", "3"];
        var kept = WithheldFields.Remove(headers, CacheControl.Parse(cacheControl));
        foreach (var name in gone.Split(',')) Assert.Null(HeaderPairs.Get(kept, name));
        Assert.Equal("3", HeaderPairs.Get(kept, "c"));
        Assert.Equal(cacheControl, HeaderPairs.Get(kept, "Cache-Control"));
    }

    [Fact] // nothing qualified: the same array comes back (no copy on the hot path)
    public void Unqualified_returns_same_array()
    {
        string[] headers = ["Cache-Control", "max-age=60"];
        Assert.Same(headers, WithheldFields.Remove(headers, CacheControl.Parse("max-age=60")));
    }

    [Theory] // RFC 5861: a response stale on arrival is still worth keeping when it may be served stale
    [InlineData("max-age=0, stale-if-error=3600", StoreVerdict.Store)]
    [InlineData("max-age=0, stale-while-revalidate=60", StoreVerdict.Store)]
    [InlineData("max-age=0", StoreVerdict.NoFreshness)]
    public void Stale_on_arrival_kept_for_rfc5861(string cacheControl, StoreVerdict expected)
    {
        string[] headers = ["Date", HttpDate.Format(Now), "Cache-Control", cacheControl];
        Assert.Equal(expected, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, headers, CacheControl.Parse(cacheControl), 5, Now, Now,
            FreshnessRules.Default, out _));
    }
}
