using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Proxy.Compression;

namespace CacheCluster.Node.Tests.Proxy.Compression;

/// <summary>The headers a compressed form is served with, made from the identity entry's current head.</summary>
public class EncodedHeadsTests
{
    private static EntryHead Identity(params string[] headers) => new()
    {
        CacheKey = "http://example.test/a.css", Status = 200, Headers = headers, RequestTimeUnixMs = 1, ResponseTimeUnixMs = 2, LifetimeMs = 60_000,
        InitialAgeMs = 0, BodyLength = 10_000, ChunkCount = 1, Generation = 7,
    };

    [Fact]
    public void The_form_has_the_coding_a_weak_etag_vary_and_no_identity_digests()
    {
        var identity = Identity("Content-Type", "text/css", "ETag", "\"abc\"", "Content-Length", "10000", "Repr-Digest", "sha-256=:x:",
            "Cache-Control", "max-age=60", "Last-Modified", "Tue, 01 Jul 2025 10:00:00 GMT");
        var form = EncodedHeads.Stored(identity, EncodedForms.Key(identity, "br"), "br", 2_000) with { ChunkCount = 1, Generation = 9 };
        var served = EncodedHeads.Served(identity, "br", form);

        Assert.Equal(["Content-Type", "text/css", "ETag", "W/\"abc\"", "Cache-Control", "max-age=60", "Last-Modified", "Tue, 01 Jul 2025 10:00:00 GMT",
            "Content-Encoding", "br", "Vary", "Accept-Encoding"], served.Headers);
        Assert.Equal((2_000L, 9L), (served.BodyLength, served.Generation));
        Assert.Equal(identity.LifetimeMs, served.LifetimeMs); // freshness stays the identity entry's
    }

    [Fact]
    public void A_weak_etag_and_an_existing_vary_are_kept()
    {
        var served = EncodedHeads.Served(Identity("ETag", "W/\"abc\"", "Vary", "Accept-Language, Accept-Encoding"), "gzip", null);
        Assert.Equal(["ETag", "W/\"abc\"", "Vary", "Accept-Language, Accept-Encoding", "Content-Encoding", "gzip"], served.Headers);
    }

    [Fact]
    public void A_form_key_names_the_identity_body()
    {
        var identity = Identity("ETag", "\"abc\"");
        var key = EncodedForms.Key(identity, "gzip");
        Assert.StartsWith("http://example.test/a.css\n#gzip\n7.2710.", key);
        Assert.True(EncodedForms.IsFormKey(key));
        Assert.False(EncodedForms.IsFormKey(identity.CacheKey));
        Assert.NotEqual(key, EncodedForms.Key(identity with { Generation = 8 }, "gzip"));
        Assert.NotEqual(key, EncodedForms.Key(identity with { Headers = ["ETag", "\"abd\""] }, "gzip"));
        Assert.NotEqual(key, EncodedForms.Key(identity, "br"));
        Assert.Equal("http://example.test/a.css", VaryMarker.UrlKeyOf(key)); // purges by URL, prefix and host find it
        Assert.True(EncodedForms.MayHaveForms(identity));
        Assert.False(EncodedForms.MayHaveForms(identity with { CacheKey = key }));
        Assert.False(EncodedForms.MayHaveForms(identity with { Headers = ["Content-Encoding", "gzip"] }));
    }
}
