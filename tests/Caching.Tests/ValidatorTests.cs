using CacheCluster.Caching;

namespace CacheCluster.Caching.Tests;

public class ValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Theory] // RFC 9110 8.8.3.2
    [InlineData("\"a\"", "\"a\"", true, true)]
    [InlineData("W/\"a\"", "\"a\"", true, false)]
    [InlineData("W/\"a\"", "W/\"a\"", true, false)]
    [InlineData("\"a\"", "\"b\"", false, false)]
    [InlineData("a", "\"a\"", true, true)]             // lenient: an unquoted tag names the same representation
    [InlineData("w/\"a\"", "W/\"a\"", true, false)]     // lenient: lower-case weakness flag
    [InlineData("\"W/a\"", "W/\"a\"", false, false)]     // a quoted "W/a" is a strong tag with W/ in it
    public void Weak_and_strong_comparison(string a, string b, bool weak, bool strong)
    {
        Assert.Equal(weak, Validators.WeakMatch(a, b));
        Assert.Equal(strong, Validators.StrongMatch(a, b));
    }

    [Fact]
    public void Tag_lists_parse_with_commas_inside_quotes()
    {
        Assert.Equal(["\"a,b\"", "W/\"c\"", "*"], Validators.ParseTagList(["\"a,b\" , W/\"c\"", "*"]));
    }

    [Theory] // RFC 9111 4.3.2
    [InlineData("\"x\"", null, true)]
    [InlineData("W/\"x\"", null, true)]     // weak comparison for If-None-Match
    [InlineData("\"y\", \"x\"", null, true)]
    [InlineData("\"y\"", null, false)]
    [InlineData("*", null, true)]
    [InlineData(null, "later", true)]        // If-Modified-Since after Last-Modified
    [InlineData(null, "earlier", false)]
    [InlineData("\"y\"", "later", false)]    // If-None-Match takes precedence
    public void Conditional_requests_against_a_stored_response(string? inm, string? ims, bool expected)
    {
        string[] stored = ["ETag", "\"x\"", "Last-Modified", HttpDate.Format(Now.AddHours(-1)), "Date", HttpDate.Format(Now)];
        var since = ims switch { "later" => HttpDate.Format(Now.AddMinutes(-30)), "earlier" => HttpDate.Format(Now.AddHours(-2)), _ => null };
        Assert.Equal(expected, Validators.NotModified(stored, inm is null ? [] : [inm], since, Now));
    }

    [Fact] // RFC 9111 3.2: a 304 replaces the fields it carries, never Content-Length
    public void A_304_updates_stored_headers()
    {
        string[] stored = ["Content-Type", "text/plain", "Cache-Control", "max-age=1", "X-Old", "1", "X-Multi", "a", "X-Multi", "b"];
        string[] notModified = ["Cache-Control", "max-age=600", "X-Multi", "c", "Content-Length", "0", "X-New", "2"];
        var merged = Validators.MergeNotModified(stored, notModified);
        Assert.Equal("max-age=600", HeaderPairs.Get(merged, "Cache-Control"));
        Assert.Equal(["c"], HeaderPairs.GetAll(merged, "X-Multi"));
        Assert.Equal("1", HeaderPairs.Get(merged, "X-Old"));
        Assert.Equal("2", HeaderPairs.Get(merged, "X-New"));
        Assert.Equal("text/plain", HeaderPairs.Get(merged, "Content-Type"));
        Assert.Null(HeaderPairs.Get(merged, "Content-Length"));
    }

    [Theory] // RFC 9111 3.2: fields that describe the stored body are not updated by a 304
    [InlineData("Content-Type", "text/plain", "text/html")]
    [InlineData("Content-Encoding", "identity", "gzip")]
    [InlineData("Content-Range", "bytes 0-4/5", "bytes 0-99/100")]
    [InlineData("Content-Length", "5", "100")]
    public void A_304_does_not_change_what_describes_the_stored_body(string name, string stored, string fromNotModified)
    {
        var merged = Validators.MergeNotModified([name, stored, "Cache-Control", "max-age=1"], [name, fromNotModified, "Cache-Control", "max-age=60"]);
        Assert.Equal([stored], HeaderPairs.GetAll(merged, name));
        Assert.Equal("max-age=60", HeaderPairs.Get(merged, "Cache-Control"));
    }

    [Theory] // RFC 9111 4.3.4: which stored response a 304 freshens
    [InlineData("\"a\"", null, "\"a\"", null, true)]
    [InlineData("\"a\"", null, "\"b\"", null, false)]          // another strong validator: not this response
    [InlineData("W/\"a\"", null, "W/\"a\"", null, true)]
    [InlineData("W/\"a\"", null, "\"a\"", null, true)]          // weak comparison when either is weak
    [InlineData("\"a\"", null, null, null, true)]               // no validator in the 304: it answers ours
    [InlineData(null, "Wed, 01 Jan 2020 00:00:00 GMT", null, "Wed, 01 Jan 2020 00:00:00 GMT", true)]
    [InlineData(null, "Wed, 01 Jan 2020 00:00:00 GMT", null, "Thu, 02 Jan 2020 00:00:00 GMT", false)]
    [InlineData(null, "Wed, 01 Jan 2020 00:00:00 GMT", "\"x\"", null, false)] // an ETag we never stored
    public void Which_responses_a_304_freshens(string? storedTag, string? storedLm, string? newTag, string? newLm, bool expected)
    {
        static string[] Pairs(string? tag, string? lm) =>
            [.. (tag is null ? Array.Empty<string>() : ["ETag", tag]), .. (lm is null ? Array.Empty<string>() : ["Last-Modified", lm])];
        Assert.Equal(expected, Validators.NotModifiedFreshens(Pairs(storedTag, storedLm), Pairs(newTag, newLm)));
    }

    [Fact] // stored responses never carry cookies, not even one a 304 brings (it belongs to the revalidating client)
    public void A_304_does_not_add_set_cookie()
    {
        string[] stored = ["Cache-Control", "public, max-age=1"];
        var merged = Validators.MergeNotModified(stored, ["Set-Cookie", "a=b", "Cache-Control", "public, max-age=60"]);
        Assert.Null(HeaderPairs.Get(merged, "Set-Cookie"));
        Assert.Equal("public, max-age=60", HeaderPairs.Get(merged, "Cache-Control"));
    }

    [Fact] // RFC 9111 3.2 / 3.1: fields a 304 withholds with no-cache="…" are not stored by the update
    public void A_304_with_qualified_no_cache_withholds_fields()
    {
        string[] stored = ["Cache-Control", "max-age=1", "a", "old", "b", "1"];
        var merged = Validators.MergeNotModified(stored, ["Cache-Control", "max-age=60, no-cache=\"a\"", "a", "new"]);
        Assert.Null(HeaderPairs.Get(merged, "a"));
        Assert.Equal("1", HeaderPairs.Get(merged, "b"));
    }
}

public class SetCookieTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Theory] // RFC 9111 3 leaves Set-Cookie to the cache: ours stores it only when the origin says it is shareable
    [InlineData("max-age=60", SetCookiePolicy.NoStoreUnlessPublic, StoreVerdict.SetCookie)]
    [InlineData("public, max-age=60", SetCookiePolicy.NoStoreUnlessPublic, StoreVerdict.Store)]
    [InlineData("s-maxage=60", SetCookiePolicy.NoStoreUnlessPublic, StoreVerdict.Store)]
    [InlineData("max-age=60", SetCookiePolicy.Strip, StoreVerdict.Store)]
    public void Responses_setting_cookies(string cc, SetCookiePolicy policy, StoreVerdict expected)
    {
        string[] h = ["Date", HttpDate.Format(Now), "Set-Cookie", "session=abc"];
        var rules = new FreshnessRules { SetCookie = policy };
        Assert.Equal(expected, StoreDecision.Decide("GET", false, CacheControl.Empty, 200, h, CacheControl.Parse(cc), 10, Now, Now, rules, out _));
    }
}
