using System.Globalization;
using System.Net;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;

namespace CacheCluster.Management.Tests;

/// <summary>The plain HTTP/1.1 side of the management port: /metrics, /healthz; and nothing of it on the proxy port.</summary>
public class HttpEndpointTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private static HttpClient Http11() => new(new SocketsHttpHandler { UseProxy = false }) { DefaultRequestVersion = HttpVersion.Version11 };

    /// <summary>Parses the Prometheus text format into (series with labels) -> value.</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var series = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return series;
    }

    [Fact]
    public async Task Metrics_are_scraped_over_http_and_agree_with_the_api()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/4k"));
        await c.GetAsync(2, url);
        await c.GetAsync(2, url);
        var name = ManagedCluster.NodeName(c.Nodes[2]);
        using var http = Http11();
        var mgmt = ManagedCluster.ManagementUri(c.Nodes[2]);

        var api = (await c.Client(2).GetStatsAsync(new StatsRequest { Node = name }, ManagedCluster.Call)).Nodes.Single().Counters;
        using var response = await http.GetAsync(new Uri(mgmt, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version11, response.Version);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.ToString());
        var metrics = Parse(await response.Content.ReadAsStringAsync());

        var label = $"node=\"{name}\"";
        double Get(string series) => metrics.TryGetValue(series, out var v) ? v : throw new Xunit.Sdk.XunitException($"no series {series} in /metrics");
        Assert.True(Get($"cachecluster_requests_total{{outcome=\"hit\",{label}}}") >= api.Hit);
        Assert.True(Get($"cachecluster_requests_total{{outcome=\"miss\",{label}}}") >= api.Miss);
        Assert.True(api.Hit >= 1 && api.Miss >= 1);
        Assert.True(Get($"cachecluster_client_bytes_total{{{label}}}") >= api.BytesToClients);
        Assert.True(Get($"cachecluster_origin_fetch_duration_seconds_count{{{label}}}") >= 1);
        Assert.True(Get($"cachecluster_origin_fetch_duration_seconds_bucket{{{label},le=\"+Inf\"}}") >= 1);
        Assert.Equal(3, Get($"cachecluster_cluster_active_nodes{{{label}}}"));
        Assert.True(Get($"cachecluster_store_disk_bytes{{{label}}}") >= 0);
        Assert.Contains(metrics.Keys, k => k.StartsWith("cachecluster_store_entries{"));
        // Grain figures are gathered in the background: a later scrape has them. The entry's grain lives on its
        // owner, which may be any node.
        double entryGrains = 0;
        for (int i = 0; i < 50 && entryGrains == 0; i++)
        {
            await Task.Delay(100);
            entryGrains = 0;
            foreach (var node in c.Nodes)
            {
                var scraped = Parse(await http.GetStringAsync(new Uri(ManagedCluster.ManagementUri(node), "/metrics")));
                entryGrains += scraped.Where(kv => kv.Key.StartsWith("cachecluster_grain_activations{grain=\"CacheEntryGrain\"")).Sum(kv => kv.Value);
            }
        }
        Assert.True(entryGrains >= 1, "CacheEntryGrain activations reported");
        // Every series carries this node's label.
        Assert.All(metrics.Keys, k => Assert.Contains(label, k));
    }

    [Fact]
    public async Task Health_endpoints_answer_on_the_management_port()
    {
        using var http = Http11();
        var mgmt = ManagedCluster.ManagementUri(c.Nodes[0]);
        using var live = await http.GetAsync(new Uri(mgmt, "/healthz/live"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await http.GetAsync(new Uri(mgmt, "/healthz/ready"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready\n", await ready.Content.ReadAsStringAsync());
        using var other = await http.GetAsync(new Uri(mgmt, "/anything-else"));
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public async Task The_proxy_port_serves_no_management_endpoint()
    {
        using var http = Http11();
        using var metrics = await http.GetAsync(new Uri(c.Nodes[0].ProxyUri, "/metrics"));
        Assert.Equal(HttpStatusCode.BadRequest, metrics.StatusCode); // a proxy: origin-form requests need a configured site
        Assert.DoesNotContain("cachecluster_requests_total", await metrics.Content.ReadAsStringAsync());

        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(c.Nodes[0].ProxyUri);
        var client = new CacheManagement.CacheManagementClient(channel);
        var ex = await Assert.ThrowsAnyAsync<Grpc.Core.RpcException>(async () =>
            await client.GetClusterStatusAsync(new ClusterStatusRequest(), ManagedCluster.Call));
        Assert.NotEqual(Grpc.Core.StatusCode.OK, ex.StatusCode);
    }
}
