using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Management.Tests;

/// <summary>cachecluster_parent_up: each parent proxy's health, as the node's health checks see it, on /metrics.</summary>
public class ParentMetricsTests
{
    private static async Task<double?> ParentUpAsync(Uri management, string parent)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        foreach (var line in (await http.GetStringAsync(new Uri(management, "/metrics"))).Split('\n'))
            if (line.StartsWith("cachecluster_parent_up{", StringComparison.Ordinal) && line.Contains($"parent=\"{parent}\""))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        return null;
    }

    private static async Task<double?> EventuallyAsync(Uri management, string parent, double expected)
    {
        double? value = null;
        var until = Stopwatch.StartNew();
        while (until.Elapsed < TimeSpan.FromSeconds(15))
        {
            value = await ParentUpAsync(management, parent);
            if (value == expected) break;
            await Task.Delay(100);
        }
        return value;
    }

    private static async Task<System.Text.Json.JsonElement> DashboardNodeAsync(Uri management)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var r = await http.GetAsync(new Uri(management, "/ui/api/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await r.Content.ReadAsStreamAsync(cts.Token));
        string? evt = null;
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("event: ")) evt = line[7..];
            else if (line.StartsWith("data: ") && evt == "sample")
                return System.Text.Json.JsonDocument.Parse(line[6..]).RootElement.GetProperty("nodes")[0].Clone();
        }
        throw new InvalidOperationException("the dashboard feed ended without a sample");
    }

    [Fact]
    public async Task A_listening_parent_is_up_a_closed_one_down_and_a_parent_that_stops_goes_down()
    {
        var up = new TcpListener(IPAddress.Loopback, 0);
        up.Start();
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int closedPort = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop(); // nothing listens there any more: connections are refused
        string upName = $"127.0.0.1:{((IPEndPoint)up.LocalEndpoint).Port}", downName = $"127.0.0.1:{closedPort}";
        try
        {
            await using var site = await LocalCluster.StartAsync(1, new Dictionary<string, string?>
            {
                ["Upstream:Parents"] = $"{upName}, {downName}",
                ["Upstream:HealthCheckInterval"] = "200ms",
                ["Proxy:ConnectTimeout"] = "1s",
            });
            var management = ManagedCluster.ManagementUri(site.Nodes[0]);
            Assert.Equal(0, await EventuallyAsync(management, downName, 0));
            Assert.Equal(1, await ParentUpAsync(management, upName));
            // The dashboard's node view says the same (its live feed; no token is set on this node).
            var node = await DashboardNodeAsync(management);
            Assert.Equal([upName], node.GetProperty("parentsUp").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal([downName], node.GetProperty("parentsDown").EnumerateArray().Select(e => e.GetString()));

            up.Stop();
            Assert.Equal(0, await EventuallyAsync(management, upName, 0));
        }
        finally { up.Stop(); }
    }
}
