using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

public class CacheControlTests
{
    [Theory]
    [InlineData("max-age=60", 60L)]
    [InlineData("MAX-AGE=60", 60L)]
    [InlineData("max-age=\"60\"", 60L)]
    [InlineData("public, max-age=60, must-revalidate", 60L)]
    [InlineData("max-age=60, max-age=120", 60L)]          // RFC 9111 4.2.1: first occurrence
    [InlineData("max-age=99999999999999999999", 2147483648L)] // 1.2.2: clamp to 2^31
    public void MaxAge_is_read(string header, long expected) =>
        Assert.Equal(expected, CacheControl.Parse(header).MaxAge);

    [Theory]
    [InlineData("max-age=abc")]
    [InlineData("max-age=-1")]
    [InlineData("max-age=")]
    [InlineData("max-age")]
    [InlineData("max-age=1.5")]
    public void Bad_max_age_marks_the_directive_invalid(string header)
    {
        var cc = CacheControl.Parse(header);
        Assert.Null(cc.MaxAge);
        Assert.True(cc.MaxAgeInvalid);
    }

    [Fact]
    public void Several_field_lines_form_one_list()
    {
        var cc = CacheControl.Parse(new[] { "no-cache=\"Set-Cookie, X-Foo\"", "private", "s-maxage=5" });
        Assert.Equal(["Set-Cookie", "X-Foo"], cc.NoCacheFields);
        Assert.False(cc.NoCache);
        Assert.True(cc.Private);
        Assert.Equal(5L, cc.SMaxAge);
    }

    [Theory]
    [InlineData("max-stale", true, null)]
    [InlineData("max-stale=30", false, 30L)]
    public void Max_stale_with_and_without_value(string header, bool any, long? value)
    {
        var cc = CacheControl.Parse(header);
        Assert.Equal(any, cc.MaxStaleAny);
        Assert.Equal(value, cc.MaxStale);
    }

    [Fact]
    public void Unknown_directives_and_odd_spacing_are_ignored()
    {
        var cc = CacheControl.Parse("  foo=\"a,b\" ,, no-store ,bar  ");
        Assert.True(cc.NoStore);
        Assert.True(cc.Present);
    }
}
