using CacheCluster.Node.Proxy.Compression;
using Microsoft.Extensions.Primitives;

namespace CacheCluster.Node.Tests.Proxy.Compression;

/// <summary>RFC 9110 12.5.3: the coding a client gets from its Accept-Encoding.</summary>
public class AcceptEncodingTests
{
    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("br", "br")]
    [InlineData("gzip, br", "br")] // equal q-values: brotli
    [InlineData("br;q=0.9, gzip", "gzip")]
    [InlineData("gzip;q=1.0, br;q=0.999", "gzip")]
    [InlineData("GZIP", "gzip")]
    [InlineData("x-gzip", "gzip")]
    [InlineData("*", "br")]
    [InlineData("*;q=0.5, br;q=0.1", "gzip")] // gzip comes under * at 0.5
    [InlineData("br;q=0, *", "gzip")]
    [InlineData("gzip ; q=0.5", "gzip")]
    public void Chooses(string field, string expected) => Assert.Equal(expected, AcceptEncoding.Choose(field));

    [Theory]
    [InlineData("")]
    [InlineData("identity")]
    [InlineData("deflate, compress, zstd")]
    [InlineData("gzip;q=0, br;q=0")]
    [InlineData("*;q=0")]
    [InlineData("gzip;q=2")] // malformed q: the member is ignored
    [InlineData("gzip;q=abc")]
    public void Identity(string field) => Assert.Null(AcceptEncoding.Choose(field));

    [Fact]
    public void Several_field_lines_are_one_list() =>
        Assert.Equal("gzip", AcceptEncoding.Choose(new StringValues(["br;q=0.2", "gzip"])));

    [Fact]
    public void No_field_means_identity() => Assert.Null(AcceptEncoding.Choose(StringValues.Empty));
}
