using System.Net;
using CacheCluster.Node.Management;
using CacheCluster.Node.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>
/// Grain activations cost memory outside every budget: a URL that is never stored (no-store, private) must not keep
/// an entry grain alive for minutes (issue 15 L6), while a stored entry's grain stays for repeated hits.
/// </summary>
public class GrainLifetimeTests(NodeAndOrigin env) : IClassFixture<NodeAndOrigin>
{
    [Fact]
    public async Task Grains_of_URLs_that_are_not_stored_are_let_go_at_once()
    {
        var census = env.Node.Services.GetRequiredService<GrainCensus>();
        await census.RefreshAsync();
        int before = EntryGrains(census);

        const int urls = 300;
        for (int i = 0; i < urls; i++)
        {
            using var response = await env.Client.GetAsync(env.Origin.Url(NodeAndOrigin.Unique("/bytes/100?cc=no-store")));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.DoesNotContain("stored", response.CacheStatus());
        }

        // Deactivation runs right after each call; give the last few a moment.
        int after = int.MaxValue;
        for (int attempt = 0; attempt < 50 && after - before > urls / 10; attempt++)
        {
            await Task.Delay(100);
            await census.RefreshAsync();
            after = EntryGrains(census);
        }
        Assert.True(after - before <= urls / 10, $"{after - before} entry grains still active after {urls} no-store URLs");

        // The control: stored URLs keep their grains (so the count above can see activations at all).
        for (int i = 0; i < 20; i++)
        {
            using var response = await env.Client.GetAsync(env.Origin.Url(NodeAndOrigin.Unique("/bytes/100")));
            Assert.Contains("stored", response.CacheStatus());
        }
        await census.RefreshAsync();
        Assert.True(EntryGrains(census) >= after + 20, $"stored URLs keep their grains ({EntryGrains(census)} vs {after})");
    }

    private static int EntryGrains(GrainCensus census) =>
        census.Last().Where(t => t.Type == "CacheEntryGrain").Sum(t => t.Count);
}
