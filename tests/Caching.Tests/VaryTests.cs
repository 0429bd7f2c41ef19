using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

/// <summary>RFC 9111 4.1: reading Vary and normalising the selecting request values.</summary>
public class VaryTests
{
    [Theory]
    [InlineData(new[] { "Accept-Encoding" }, "accept-encoding")]
    [InlineData(new[] { "  Accept-Language ,accept-encoding  " }, "accept-language|accept-encoding")]
    [InlineData(new[] { "Accept-Language", "X-Kind, accept-language" }, "accept-language|x-kind")] // several lines, duplicates
    [InlineData(new[] { ",, Accept,," }, "accept")]
    [InlineData(new[] { "bad name, Accept" }, "accept")] // not a field name: ignored
    public void Names_are_lower_cased_deduplicated_across_lines(string[] lines, string expected)
    {
        var headers = lines.SelectMany(l => new[] { "Vary", l }).ToArray();
        Assert.Equal(expected, string.Join("|", Vary.Names(headers, out var star)));
        Assert.False(star);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("Accept, *")]
    public void Star_is_reported(string line)
    {
        Vary.Names(["Vary", line], out var star);
        Assert.True(star);
    }

    [Fact]
    public void No_vary_means_no_names() => Assert.Empty(Vary.Names(["Cache-Control", "max-age=1"], out _));

    [Theory]
    [InlineData(new[] { "gzip, br" }, "gzip,br")]
    [InlineData(new[] { "gzip,br" }, "gzip,br")]
    [InlineData(new[] { " gzip ,\tbr " }, "gzip,br")]
    [InlineData(new[] { "gzip", "br" }, "gzip,br")] // field lines combine like one list
    [InlineData(new[] { "text/html;  q=0.9" }, "text/html; q=0.9")]
    [InlineData(new[] { "" }, "")] // present but empty is not absent
    public void Values_are_normalised(string[] lines, string expected) => Assert.Equal(expected, Vary.NormalizedValue(lines));

    [Fact]
    public void An_absent_header_has_no_value() => Assert.Null(Vary.NormalizedValue([]));

    [Fact]
    public void Vary_star_is_not_stored()
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new[] { "Vary", "*", "Cache-Control", "max-age=60" };
        Assert.Equal(StoreVerdict.VaryStar, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, headers,
            CacheControl.Parse("max-age=60"), 10, now, now, FreshnessRules.Default, out _));
        var varying = new[] { "Vary", "Accept-Language", "Cache-Control", "max-age=60" };
        Assert.Equal(StoreVerdict.Store, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, varying,
            CacheControl.Parse("max-age=60"), 10, now, now, FreshnessRules.Default, out _));
    }
}
