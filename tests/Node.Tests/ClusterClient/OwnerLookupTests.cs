using System.Net;
using CacheCluster.Contracts;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.Lookups;
using CacheCluster.Node.Management;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>
/// Lookups on the owner's own node: once the owner grain found its entry whole, later lookups here read the store
/// without a call into the grain (PublishedHeads), and every change the grain makes is seen by the very next lookup.
/// Hot copies are off, so every hit is a lookup.
/// </summary>
public sealed class OwnerLookupTests(OwnerLookupTests.NoHotCopies env) : IClassFixture<OwnerLookupTests.NoHotCopies>
{
    public sealed class NoHotCopies : IAsyncLifetime
    {
        public TestNode Node { get; private set; } = null!;
        public OriginServer Origin { get; private set; } = null!;
        public HttpClient Client { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Origin = await OriginServer.StartAsync();
            Node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["Cache:HotCacheSize"] = "0" });
            Client = Node.CreateClient();
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await Node.DisposeAsync();
            await Origin.DisposeAsync();
        }
    }

    private PublishedHeads Published => env.Node.Services.GetRequiredService<PublishedHeads>();

    [Theory]
    [InlineData("/bytes/1k", 1024)]
    [InlineData("/bytes/200k", 200 * 1024)] // several store chunks, all read here
    public async Task Hits_here_are_read_from_the_store_without_a_call_and_still_counted(string resource, int length)
    {
        var path = NodeAndOrigin.Unique(resource);
        var url = env.Origin.Url(path);
        byte[] first;
        using (var miss = await env.Client.GetAsync(url))
        {
            Assert.Contains("stored", miss.CacheStatus());
            first = await miss.Content.ReadAsByteArrayAsync();
        }
        Assert.Equal(length, first.Length);
        long answered = Published.Answered;
        for (int i = 0; i < 6; i++)
        {
            using var hit = await env.Client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal(first, await hit.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(1, env.Origin.RequestCount(path));
        // The commit published the head, so hits are answered here (one that came before the commit was written asks the grain).
        Assert.True(Published.Answered - answered >= 5, $"{Published.Answered - answered} of 6 hits answered without a call");
        var grains = env.Node.Services.GetRequiredService<IGrainFactory>();
        var info = await grains.GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(url.ToString())).InspectAsync();
        Assert.Equal(6, info.Hits); // management's inspect counts them all
    }

    /// <summary>A miss's entry is published as its commit is written: even its first hit here needs no call.</summary>
    [Fact]
    public async Task An_entry_just_stored_is_answered_here_without_a_call_from_its_first_hit()
    {
        var path = NodeAndOrigin.Unique("/bytes/4k");
        var url = env.Origin.Url(path);
        byte[] body;
        using (var miss = await env.Client.GetAsync(url))
        {
            Assert.Contains("stored", miss.CacheStatus());
            body = await miss.Content.ReadAsByteArrayAsync();
        }
        // The client may have its last byte a moment before the owner has written the commit (BodyCopy.CommitPatience).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        LookupResult? local;
        while ((local = await Published.TryLookUpAsync(url.ToString())) is null && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.NotNull(local); // no lookup went through the grain yet: only the commit can have published it
        Assert.Equal(body, local.FirstChunk);
        long answered = Published.Answered;
        using (var hit = await env.Client.GetAsync(url))
        {
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal(body, await hit.Content.ReadAsByteArrayAsync());
        }
        Assert.Equal(answered + 1, Published.Answered);
        Assert.Equal(1, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task A_revalidated_entry_is_served_with_the_head_of_the_304_at_once()
    {
        var path = env.Origin.Script("local-304-" + Guid.NewGuid().ToString("N")[..8],
            new ScriptedResponse { Headers = [new("Cache-Control", "max-age=4"), new("ETag", "\"v1\""), new("X-Version", "1")] },
            new ScriptedResponse { NotModifiedIfConditional = true, Headers = [new("Cache-Control", "max-age=3600"), new("ETag", "\"v1\""), new("X-Version", "2")] });
        var url = env.Origin.Url(path);
        using (var miss = await env.Client.GetAsync(url)) Assert.Equal("1", miss.Header("X-Version"));
        for (int i = 0; i < 3; i++)
        {
            using var hit = await env.Client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
        }
        await Task.Delay(TimeSpan.FromSeconds(4.2)); // stale
        using (var revalidated = await env.Client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, revalidated.StatusCode);
            Assert.Equal("2", revalidated.Header("X-Version"));
        }
        for (int i = 0; i < 3; i++)
        {
            using var hit = await env.Client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal("2", hit.Header("X-Version")); // not the head published before the 304 (stale: it would revalidate again)
            Assert.Equal("body-1", await hit.Content.ReadAsStringAsync());
        }
        Assert.Equal(2, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task A_purged_entry_is_a_miss_at_once()
    {
        var path = NodeAndOrigin.Unique("/bytes/2k");
        var url = env.Origin.Url(path);
        for (int i = 0; i < 4; i++) (await env.Client.GetAsync(url)).Dispose();
        Assert.Equal(1, env.Origin.RequestCount(path));

        var purge = await PurgeCurl.ViaProxyAsync(env.Node, url);
        Assert.Equal(200, purge.Status);
        using (var after = await env.Client.GetAsync(url)) Assert.DoesNotContain("hit", after.CacheStatus());
        Assert.Equal(2, env.Origin.RequestCount(path));
        using (var hit = await env.Client.GetAsync(url)) Assert.Contains("hit", hit.CacheStatus());
    }

    [Fact]
    public async Task An_idle_entry_is_hit_without_an_activation_and_its_next_activation_takes_its_head_back()
    {
        var path = env.Origin.Script("local-idle-" + Guid.NewGuid().ToString("N")[..8],
            new ScriptedResponse { Headers = [new("Cache-Control", "max-age=8"), new("ETag", "\"v1\""), new("X-Version", "1")] },
            new ScriptedResponse { NotModifiedIfConditional = true, Headers = [new("Cache-Control", "max-age=3600"), new("ETag", "\"v1\""), new("X-Version", "2")] });
        var url = env.Origin.Url(path);
        var grain = env.Node.Services.GetRequiredService<IGrainFactory>().GetGrain<ICacheEntryGrain>(CacheKeyHash.ToGrainKey(url.ToString()));
        for (int i = 0; i < 3; i++) (await env.Client.GetAsync(url)).Dispose(); // stored, then published by a hit

        // Every idle activation goes (as the 2-minute collection would do); the entry's hits need none.
        var census = env.Node.Services.GetRequiredService<GrainCensus>();
        await env.Node.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        await census.RefreshAsync();
        int idle = EntryGrains(census);
        long answered = Published.Answered;
        for (int i = 0; i < 5; i++)
        {
            using var hit = await env.Client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal("1", hit.Header("X-Version"));
        }
        Assert.Equal(5, Published.Answered - answered);
        await census.RefreshAsync();
        Assert.True(EntryGrains(census) <= idle, $"hits on an idle entry activated grains ({idle} -> {EntryGrains(census)})");

        // Stale: the revalidation activates the grain, which takes the head back before the 304 refreshes it.
        await Task.Delay(TimeSpan.FromSeconds(8.2)); // fresh for 8 s: the collection and census take a while on a busy machine
        using (var revalidated = await env.Client.GetAsync(url)) Assert.Equal("2", revalidated.Header("X-Version"));
        for (int i = 0; i < 3; i++)
        {
            using var hit = await env.Client.GetAsync(url);
            Assert.Contains("hit", hit.CacheStatus());
            Assert.Equal("2", hit.Header("X-Version")); // the head left published by the first activation is gone
        }
        Assert.Equal(2, env.Origin.RequestCount(path));
        Assert.True((await grain.InspectAsync()).Hits >= 3, "hits made while the grain was idle are counted by the next activation");
    }

    private static int EntryGrains(GrainCensus census) =>
        census.Last().Where(t => t.Type == "CacheEntryGrain").Sum(t => t.Count);
}
