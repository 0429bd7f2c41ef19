using System.Text.RegularExpressions;
using CacheCluster.Management.Tests.Support;

namespace CacheCluster.Management.Tests;

/// <summary>cachectl stats --watch: per-second rates per node and for the cluster (piped: one table per update).</summary>
public class CliLiveStatsTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private string[] Args(int node, params string[] args) =>
        [.. args, "--address", ManagedCluster.ManagementUri(c.Nodes[node]).ToString(), "--token", ManagedCluster.Token];

    [Fact]
    public async Task Watch_shows_per_second_rates_while_traffic_flows()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        await c.GetAsync(0, url);
        using var stop = new CancellationTokenSource();
        // Hits through every node while cachectl watches (bounded: at most 60 s).
        var traffic = Task.Run(async () =>
        {
            var until = DateTime.UtcNow.AddSeconds(60);
            for (int i = 0; !stop.IsCancellationRequested && DateTime.UtcNow < until; i++)
            {
                await c.GetAsync(i % 3, url);
                await Task.Delay(20);
            }
        });
        var r = await Cli.RunAsync(Args(1, "stats", "--watch", "--interval", "1", "--count", "4"));
        stop.Cancel();
        await traffic;
        Assert.True(r.ExitCode == 0, r.Stderr);
        // Four updates; the first has no rates yet ("-"), later ones do.
        Assert.Equal(4, Regex.Matches(r.Stdout, @"every 1 s").Count);
        foreach (var n in c.Nodes) Assert.Contains(ManagedCluster.NodeName(n) + " /s", r.Stdout);
        Assert.Contains("cluster /s", r.Stdout);
        var hitRates = Regex.Matches(r.Stdout, @"^\s*hit\s+(?!ratio)(.*)$", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(4, hitRates.Count);
        Assert.All(hitRates[0][..^1], v => Assert.Equal("-", v));
        // The cluster's hit rate (last rate column) is positive in a later update.
        Assert.Contains(hitRates.Skip(1), cells => double.Parse(cells[^2], System.Globalization.NumberStyles.Any, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains("KiB/s", r.Stdout);
    }
}
