using CacheCluster.Node.Proxy;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// The fast path that takes an absolute-form target as its own cache key must agree byte for byte with the key
/// the full parse builds; whatever it is unsure of goes to the full parse.
/// </summary>
public class CanonicalUrlTests
{
    private static readonly UriCreationOptions RawPath = new() { DangerousDisablePathAndQueryCanonicalization = true };

    private static string FullKey(string raw) => RequestTarget.KeyFor(new Uri(raw, in RawPath));

    [Theory]
    [InlineData("http://127.0.0.1:8080/bytes/1k")]
    [InlineData("http://example.com/")]
    [InlineData("https://example.com/a/b?c=d&e=%41")]
    [InlineData("http://deb.debian.org/debian/pool/main/c/curl/curl_7.88.1-10_amd64.deb")]
    [InlineData("http://a-b.example/x/../y/./z")]
    [InlineData("https://10.1.2.3:8443/")]
    [InlineData("http://example.com/search?q=a+b&x=%7E~")]
    [InlineData("http://xn--bcher-kva.example/")]
    public void A_canonical_target_is_its_own_key(string raw)
    {
        Assert.True(CanonicalUrl.Is(raw));
        Assert.Equal(FullKey(raw), raw);
    }

    [Theory]
    [InlineData("http://Example.com/")]          // upper-case host: the key is lower case
    [InlineData("HTTP://example.com/")]          // upper-case scheme
    [InlineData("http://example.com:80/")]       // default port: dropped from the key
    [InlineData("https://example.com:443/x")]
    [InlineData("http://example.com:080/")]      // leading zero
    [InlineData("http://example.com")]           // no path: the key adds '/'
    [InlineData("http://example.com?x")]
    [InlineData("http://127.1/")]                // short IPv4 form: Uri writes 127.0.0.1
    [InlineData("http://0177.0.0.1/")]           // octal IPv4 form
    [InlineData("http://[::1]:8080/")]           // IPv6
    [InlineData("http://user:pw@example.com/")]  // user info is refused by the full parse
    [InlineData("http://example..com/")]
    [InlineData("http://example.com/a b")]
    [InlineData("http://example.com/a#frag")]
    [InlineData("ftp://example.com/")]
    public void Anything_else_takes_the_full_parse(string raw) => Assert.False(CanonicalUrl.Is(raw));

    [Fact]
    public void Generated_targets_agree_with_the_full_parse()
    {
        var random = new Random(7);
        string[] hosts = ["a.example", "127.0.0.1", "10.0.0.255", "x-y.z", "255.255.255.255", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a1", "9a.b"];
        string[] ports = ["", ":1", ":80", ":443", ":8080", ":65535", ":65536", ":0"];
        string[] paths = ["/", "/a", "/a/../b", "/%2e%2e/x", "/a?b=c", "/a;b", "/~user/", "/%7e", "/a//b", "/a?x=/../y"];
        for (int i = 0; i < 2000; i++)
        {
            var raw = $"{(random.Next(2) == 0 ? "http" : "https")}://{hosts[random.Next(hosts.Length)]}{ports[random.Next(ports.Length)]}{paths[random.Next(paths.Length)]}";
            if (!CanonicalUrl.Is(raw)) continue;
            Assert.True(Uri.TryCreate(raw, in RawPath, out var uri), raw);
            Assert.Equal(RequestTarget.KeyFor(uri), raw);
        }
    }
}
