using System.Net;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// A hit whose stored body turns out broken mid-delivery (a chunk's bytes damaged on disk, as a disk error or an
/// interrupted write would leave them): the node finishes the body from the origin with Range + If-Range, or cuts
/// the connection when it cannot - the client never sees a wrong or silently short body.
/// </summary>
public class BodyContinuationTests : IAsyncLifetime
{
    private OriginServer _origin = null!;
    private TestNode _node = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _origin = await OriginServer.StartAsync();
        _node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            // A 4 MiB memory tier: what is written 8 MiB later is read from the log file on disk.
            ["Store:MemoryBudget"] = "4MiB",
            ["Store:DiskBudget"] = "64MiB",
            ["Cache:HotCacheSize"] = "0", // every hit reads the store
        });
        _client = _node.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _node.DisposeAsync();
        await _origin.DisposeAsync();
    }

    [Fact]
    public async Task A_damaged_chunk_is_resumed_from_the_origin_with_If_Range_and_the_body_is_whole()
    {
        var path = NodeAndOrigin.Unique("/bytes/1m?etag=v1&ranges=1");
        await StoreAndDamageChunk2Async(path);
        var counters = _node.Services.GetRequiredService<ProxyCounters>();

        using var hit = await _client.GetAsync(_origin.Url(path));
        Assert.Equal(HttpStatusCode.OK, hit.StatusCode);
        Assert.Contains("hit", hit.CacheStatus());
        var body = await hit.Content.ReadAsByteArrayAsync();
        Assert.Equal(OriginContent.Expected(path), body);

        var resumed = _origin.RequestsFor(path).Last();
        Assert.Equal($"bytes={2 * EntryStore.MaxChunkBytes}-{1024 * 1024 - 1}", resumed.Headers["Range"].Single());
        Assert.Equal("\"v1\"", resumed.Headers["If-Range"].Single());
        Assert.Equal(1, counters.BodyContinuations);
        Assert.Equal(0, counters.BodyAborts(BodyAbortCause.StoreChunkMissing));
    }

    [Fact]
    public async Task Without_a_strong_validator_the_connection_is_cut_and_the_short_body_never_looks_whole()
    {
        var path = NodeAndOrigin.Unique("/bytes/1m");
        await StoreAndDamageChunk2Async(path);
        var counters = _node.Services.GetRequiredService<ProxyCounters>();

        using var hit = await _client.GetAsync(_origin.Url(path), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(1024 * 1024, hit.Content.Headers.ContentLength);
        await using var stream = await hit.Content.ReadAsStreamAsync();
        // Reading to the end fails: the client can tell the body is incomplete.
        await Assert.ThrowsAnyAsync<IOException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Equal(1, counters.BodyAborts(BodyAbortCause.StoreChunkMissing));

        // The broken entry is gone: the next request is a miss that stores it again, whole.
        using var again = await _client.GetAsync(_origin.Url(path));
        Assert.Contains("fwd=", again.CacheStatus());
        Assert.Equal(OriginContent.Expected(path), await again.Content.ReadAsByteArrayAsync());
    }

    /// <summary>Stores <paramref name="path"/>, pushes it out of the memory tier, then flips a byte of its third
    /// chunk in the log file (the record then fails its checksum and reads as missing).</summary>
    private async Task StoreAndDamageChunk2Async(string path)
    {
        using (var miss = await _client.GetAsync(_origin.Url(path)))
        {
            Assert.Contains("stored", miss.CacheStatus());
            await miss.Content.ReadAsByteArrayAsync();
        }
        for (int i = 0; i < 12; i++)
        {
            using var other = await _client.GetAsync(_origin.Url(NodeAndOrigin.Unique("/bytes/1m")));
            await other.Content.ReadAsByteArrayAsync();
        }

        var pattern = OriginContent.Expected(path).AsSpan(2 * EntryStore.MaxChunkBytes, 256).ToArray();
        bool damaged = false;
        foreach (var file in Directory.GetFiles(Path.Combine(_node.DataDir, "log"), "hlog.log.*"))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            int at = bytes.AsSpan().IndexOf(pattern);
            if (at < 0) continue;
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            stream.Position = at + 100;
            stream.WriteByte((byte)(bytes[at + 100] ^ 0xFF));
            damaged = true;
        }
        Assert.True(damaged, "the third chunk was found in the log files");
    }
}
