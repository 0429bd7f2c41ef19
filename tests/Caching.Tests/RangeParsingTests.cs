namespace CacheCluster.Caching.Tests;

/// <summary>Range (RFC 9110 14.1.2, 14.2) and If-Range (13.1.5) parsing.</summary>
public class RangeParsingTests
{
    private static ByteRange[] Satisfiable(string header, long length)
    {
        Assert.Equal(RangeOutcome.Satisfiable, ByteRanges.Parse(header, length, out var ranges));
        return ranges;
    }

    [Theory]
    [InlineData("bytes=0-99", 0, 99)]
    [InlineData("bytes=0-0", 0, 0)]
    [InlineData("bytes=100-", 100, 999)]       // open range
    [InlineData("bytes=-100", 900, 999)]       // suffix range
    [InlineData("bytes=-5000", 0, 999)]        // suffix longer than the representation: all of it
    [InlineData("bytes=500-5000", 500, 999)]   // last-pos past the end is clipped
    [InlineData("bytes=999-", 999, 999)]
    [InlineData("bytes=0-99999999999999999999999", 0, 999)] // saturates instead of overflowing
    [InlineData("BYTES=1-2", 1, 2)]            // range units are case-insensitive
    [InlineData("bytes= 1-2 ", 1, 2)]          // OWS around the list element
    [InlineData(" bytes =1-2", 1, 2)]
    [InlineData("bytes=,1-2,", 1, 2)]          // empty list elements are ignored
    [InlineData("bytes=5000-,1-2", 1, 2)]      // unsatisfiable ranges are dropped when another one is satisfiable
    public void Single_ranges_resolve_against_the_length(string header, long first, long last)
    {
        var ranges = Satisfiable(header, 1000);
        Assert.Equal([new ByteRange(first, last)], ranges);
    }

    [Fact]
    public void Multiple_ranges_keep_the_clients_order()
    {
        var ranges = Satisfiable("bytes=500-599, 0-9,\t-10", 1000);
        Assert.Equal([new ByteRange(500, 599), new ByteRange(0, 9), new ByteRange(990, 999)], ranges);
        Assert.Equal(100, ranges[0].Length);
    }

    [Theory]
    [InlineData("bytes=0-10,5-20", "0-20")]                 // overlapping
    [InlineData("bytes=0-9,10-19", "0-19")]                 // adjacent
    [InlineData("bytes=10-19,0-9,50-59", "0-19;50-59")]     // merged part takes its earliest member's place
    [InlineData("bytes=50-59,10-19,0-9", "50-59;0-19")]
    [InlineData("bytes=0-,-10,100-200", "0-999")]           // everything collapses into one range
    [InlineData("bytes=0-0,0-0,0-0", "0-0")]
    public void Overlapping_or_adjacent_ranges_are_coalesced(string header, string expected)
    {
        var ranges = Satisfiable(header, 1000);
        Assert.Equal(expected, string.Join(";", ranges.Select(r => $"{r.First}-{r.Last}")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("bytes")]
    [InlineData("bytes=")]
    [InlineData("bytes=,")]
    [InlineData("bytes=abc")]
    [InlineData("bytes=5")]
    [InlineData("bytes=-")]
    [InlineData("bytes=10-5")]          // last-pos before first-pos: invalid
    [InlineData("bytes=0-5,10-5")]      // one invalid spec invalidates the header
    [InlineData("bytes=1 - 2")]         // no whitespace inside a range-spec
    [InlineData("bytes=+1-2")]
    [InlineData("bytes=1-2-3")]
    [InlineData("bytes=0x10-20")]
    [InlineData("items=0-5")]           // unknown unit
    [InlineData("bytes 0-5")]
    [InlineData("bytes=--5")]
    public void Invalid_or_foreign_ranges_are_ignored(string? header)
    {
        Assert.Equal(RangeOutcome.Ignore, ByteRanges.Parse(header, 1000, out var ranges));
        Assert.Empty(ranges);
    }

    [Theory]
    [InlineData("bytes=1000-")]
    [InlineData("bytes=1000-2000")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=5000-6000, 1000-, -0")]
    [InlineData("bytes=99999999999999999999-")]
    public void Ranges_past_the_end_are_unsatisfiable(string header)
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, ByteRanges.Parse(header, 1000, out var ranges));
        Assert.Empty(ranges);
    }

    [Fact]
    public void Empty_representation()
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, ByteRanges.Parse("bytes=0-", 0, out _));
        Assert.Equal(RangeOutcome.Unsatisfiable, ByteRanges.Parse("bytes=-0", 0, out _));
        // A non-zero suffix is "satisfiable" but selects nothing: the empty 200 is served.
        Assert.Equal(RangeOutcome.Ignore, ByteRanges.Parse("bytes=-5", 0, out _));
    }

    [Fact]
    public void More_than_100_ranges_are_ignored_up_to_100_are_served()
    {
        string Many(int n) => "bytes=" + string.Join(",", Enumerable.Range(0, n).Select(i => $"{i * 10}-{i * 10}"));
        Assert.Equal(100, Satisfiable(Many(100), 10_000).Length);
        Assert.Equal(RangeOutcome.Ignore, ByteRanges.Parse(Many(101), 10_000, out _));
        // Even when they would coalesce: the count of range-specs is what is limited.
        Assert.Equal(RangeOutcome.Ignore, ByteRanges.Parse("bytes=" + string.Join(",", Enumerable.Repeat("0-", 101)), 10_000, out _));
    }

    [Fact]
    public void Content_range_values()
    {
        Assert.Equal("bytes 0-99/1000", ByteRanges.ContentRange(new ByteRange(0, 99), 1000));
        Assert.Equal("bytes */1000", ByteRanges.UnsatisfiedContentRange(1000));
    }

    // ---- If-Range --------------------------------------------------------------------------------

    private const string Date = "Sun, 22 Nov 2026 12:00:00 GMT";
    private const string OldLastModified = "Sun, 22 Nov 2026 11:00:00 GMT";   // an hour before Date: strong
    private const string RecentLastModified = "Sun, 22 Nov 2026 11:59:30 GMT"; // 30 s before Date: weak

    [Theory]
    [InlineData("\"abc\"", "\"abc\"", true)]
    [InlineData(" \"abc\" ", "\"abc\"", true)]
    [InlineData("\"abc\"", "\"abd\"", false)]
    [InlineData("\"abc\"", "\"ABC\"", false)]       // opaque tags compare octet by octet
    [InlineData("W/\"abc\"", "\"abc\"", false)]     // weak never matches
    [InlineData("\"abc\"", "W/\"abc\"", false)]
    [InlineData("W/\"abc\"", "W/\"abc\"", false)]
    [InlineData("\"abc\"", null, false)]
    [InlineData("\"abc", "\"abc\"", false)]         // malformed tag
    public void If_range_entity_tags_use_strong_comparison(string ifRange, string? etag, bool holds) =>
        Assert.Equal(holds, ByteRanges.IfRangeHolds(ifRange, etag, OldLastModified, Date));

    [Theory]
    [InlineData(OldLastModified, OldLastModified, Date, true)]
    [InlineData("Sunday, 22-Nov-26 11:00:00 GMT", OldLastModified, Date, true)] // same instant, obsolete form
    [InlineData("Sun, 22 Nov 2026 11:00:01 GMT", OldLastModified, Date, false)] // not exactly equal
    [InlineData("Sun, 22 Nov 2026 10:59:59 GMT", OldLastModified, Date, false)]
    [InlineData(RecentLastModified, RecentLastModified, Date, false)]           // Last-Modified is not strong
    [InlineData("Sun, 22 Nov 2026 11:59:00 GMT", "Sun, 22 Nov 2026 11:59:00 GMT", Date, true)] // exactly 60 s: strong
    [InlineData(OldLastModified, OldLastModified, null, false)]                 // no Date: cannot tell
    [InlineData(OldLastModified, null, Date, false)]                            // no Last-Modified
    [InlineData("yesterday", OldLastModified, Date, false)]
    public void If_range_dates_must_equal_a_strong_last_modified(string ifRange, string? lastModified, string? date, bool holds) =>
        Assert.Equal(holds, ByteRanges.IfRangeHolds(ifRange, "\"abc\"", lastModified, date));

    [Fact]
    public void No_if_range_always_holds() => Assert.True(ByteRanges.IfRangeHolds(null, null, null, null));
}
