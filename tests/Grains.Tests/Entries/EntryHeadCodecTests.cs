using System.Text;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Entries;

namespace CacheCluster.Grains.Tests.Entries;

/// <summary>The header record's bytes: what goes in comes out, and anything unreadable is a miss, never an error.</summary>
public class EntryHeadCodecTests
{
    private static EntryHead Sample() => new()
    {
        CacheKey = "http://example.test/a?b=ü",
        Status = 203,
        ReasonPhrase = "Non-Authoritative",
        Headers = ["Content-Type", "text/plain", "ETag", "\"v1\"", "X-Empty", ""],
        RequestTimeUnixMs = 1_700_000_000_000,
        ResponseTimeUnixMs = 1_700_000_000_123,
        LifetimeMs = 3_600_000,
        InitialAgeMs = 42,
        Flags = EntryFlags.Heuristic | EntryFlags.MustRevalidate | EntryFlags.Immutable,
        BodyLength = 200_000,
        ChunkCount = 4,
        Generation = 987_654_321,
        StoredAtUnixMs = 1_700_000_000_456,
        StaleWhileRevalidateMs = 60_000,
        StaleIfErrorMs = 0,
    };

    [Fact]
    public void Every_field_round_trips()
    {
        var head = Sample();
        var decoded = EntryHeadCodec.TryDecode(EntryHeadCodec.Encode(head));
        Assert.NotNull(decoded);
        // Records compare arrays by reference: compare the headers apart, the rest as a whole.
        Assert.Equal(head.Headers, decoded.Headers);
        Assert.Equal(head, decoded with { Headers = head.Headers });
    }

    [Fact]
    public void A_vary_marker_and_a_missing_reason_phrase_round_trip()
    {
        var marker = VaryMarker.Create("http://example.test/v", ["Accept-Encoding"], "00FF", "http://example.test/v\n00FF\nAccept-Encoding:gzip", 5);
        var decoded = EntryHeadCodec.TryDecode(EntryHeadCodec.Encode(marker));
        Assert.NotNull(decoded);
        Assert.True(VaryMarker.Is(decoded));
        Assert.Null(decoded.ReasonPhrase);
        Assert.Equal("00FF", VaryMarker.Epoch(decoded));
        Assert.Equal(VaryMarker.Variants(marker), VaryMarker.Variants(decoded));
    }

    [Fact]
    public void A_version_1_record_reads_without_the_stale_windows()
    {
        var head = Sample();
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)1);
            w.Write(head.CacheKey); w.Write(head.Status); w.Write(head.ReasonPhrase!);
            w.Write(head.Headers.Length); foreach (var h in head.Headers) w.Write(h);
            w.Write(head.RequestTimeUnixMs); w.Write(head.ResponseTimeUnixMs); w.Write(head.LifetimeMs); w.Write(head.InitialAgeMs);
            w.Write((int)head.Flags); w.Write(head.BodyLength); w.Write(head.ChunkCount); w.Write(head.Generation); w.Write(head.StoredAtUnixMs);
        }
        var decoded = EntryHeadCodec.TryDecode(ms.ToArray());
        Assert.NotNull(decoded);
        Assert.Equal(-1, decoded.StaleWhileRevalidateMs);
        Assert.Equal(-1, decoded.StaleIfErrorMs);
        Assert.Equal(head with { StaleWhileRevalidateMs = -1, StaleIfErrorMs = -1, Headers = decoded.Headers }, decoded);
    }

    [Fact]
    public void Truncated_records_an_unknown_version_and_a_bad_header_count_are_misses()
    {
        var bytes = EntryHeadCodec.Encode(Sample());
        for (int cut = 0; cut < bytes.Length; cut++)
            Assert.Null(EntryHeadCodec.TryDecode(bytes[..cut]));
        var future = (byte[])bytes.Clone();
        future[0] = 3;
        Assert.Null(EntryHeadCodec.TryDecode(future));

        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)2); w.Write("k"); w.Write(200); w.Write("");
            w.Write(3); // an odd count of name/value strings
            w.Write("a"); w.Write("b"); w.Write("c");
        }
        Assert.Null(EntryHeadCodec.TryDecode(ms.ToArray()));
    }
}
