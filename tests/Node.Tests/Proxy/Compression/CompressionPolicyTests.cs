using CacheCluster.Node.Configuration;
using CacheCluster.Node.Proxy.Compression;
using Microsoft.AspNetCore.Http;

namespace CacheCluster.Node.Tests.Proxy.Compression;

/// <summary>Which responses have compressed forms (Cache:Compression:Types, sizes, no-transform, origin codings).</summary>
public class CompressionPolicyTests
{
    private static readonly CompressionPolicy Defaults = new(CompressionSettings.Default);

    [Theory]
    [InlineData("text/html", true)]
    [InlineData("text/html; charset=utf-8", true)]
    [InlineData("TEXT/CSS", true)]
    [InlineData("application/json", true)]
    [InlineData("application/ld+json", true)]
    [InlineData("application/rss+xml", true)]
    [InlineData("application/javascript; charset=utf-8", true)]
    [InlineData("image/svg+xml", true)]
    [InlineData("application/wasm", true)]
    [InlineData("image/png", false)]
    [InlineData("application/octet-stream", false)]
    [InlineData("application/zip", false)]
    [InlineData("video/mp4", false)]
    [InlineData("application/jsonx", false)]
    public void Default_types(string contentType, bool compressible) => Assert.Equal(compressible, Defaults.TypeMatches(contentType));

    [Fact]
    public void Configured_types_replace_the_defaults()
    {
        var policy = new CompressionPolicy(new CompressionSettings { Types = ["text/plain", "application/*+yaml"] });
        Assert.True(policy.TypeMatches("text/plain"));
        Assert.True(policy.TypeMatches("application/openapi+yaml"));
        Assert.False(policy.TypeMatches("text/html"));
    }

    [Theory]
    [InlineData(2048, new[] { "Content-Type", "text/html" }, true)]
    [InlineData(-1, new[] { "Content-Type", "text/html" }, true)] // length not known yet
    [InlineData(1023, new[] { "Content-Type", "text/html" }, false)] // under MinSize
    [InlineData(17L << 20, new[] { "Content-Type", "text/html" }, false)] // over MaxSize
    [InlineData(2048, new[] { "Content-Type", "text/html", "Content-Encoding", "gzip" }, false)]
    [InlineData(2048, new[] { "Content-Type", "text/html", "Cache-Control", "public, no-transform" }, false)]
    [InlineData(2048, new[] { "Cache-Control", "max-age=60" }, false)] // no type: unknown content
    public void Compressible(long length, string[] headers, bool expected) => Assert.Equal(expected, Defaults.Compressible(headers, length));

    [Fact]
    public void Vary_is_added_once()
    {
        var stored = new[] { "Content-Type", "text/html", "Vary", "accept-encoding" };
        IHeaderDictionary response = new HeaderDictionary { ["Vary"] = "accept-encoding" };
        Defaults.AddVary(response, 200, stored, 4096);
        Assert.Equal("accept-encoding", response.Vary.ToString());
        Assert.Same(stored, Defaults.WithVary(200, stored, 4096));

        var plain = new[] { "Content-Type", "text/html" };
        Assert.Equal(["Content-Type", "text/html", "Vary", "Accept-Encoding"], Defaults.WithVary(200, plain, 4096));
        Assert.Same(plain, Defaults.WithVary(404, plain, 4096));
        Assert.Same(plain, new CompressionPolicy(new CompressionSettings { Enabled = false }).WithVary(200, plain, 4096));
    }
}
