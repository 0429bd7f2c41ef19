using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Management.Tests.Support;

namespace CacheCluster.Management.Tests;

/// <summary>
/// /metrics beyond the cache counters: client request durations by outcome, responses by status class, the
/// proxy's refusals by reason, in-flight requests and tunnels, the .NET runtime, Kestrel, and build_info.
/// </summary>
public class RuntimeMetricsTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private static async Task<Dictionary<string, double>> ScrapeAsync(Uri management)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var series = new Dictionary<string, double>();
        foreach (var line in (await http.GetStringAsync(new Uri(management, "/metrics"))).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return series;
    }

    /// <summary>A raw CONNECT (HttpClient cannot send one to a refused port and show the answer).</summary>
    private static async Task<string> ConnectAsync(Uri proxy, string authority)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(proxy.Host, proxy.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n"));
        var buffer = new byte[4096];
        int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    [Fact]
    public async Task Requests_refusals_runtime_and_kestrel_are_scraped()
    {
        var node = c.Nodes[1];
        var name = ManagedCluster.NodeName(node);
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        await c.GetAsync(1, url);
        await c.GetAsync(1, url);
        // Refused by the destination guard (link-local / metadata address) and by Proxy:ConnectPorts.
        var (_, guardStatus, _) = await c.GetAsync(1, new Uri("http://169.254.169.254/latest/meta-data/"));
        Assert.Equal(403, guardStatus);
        Assert.StartsWith("HTTP/1.1 403", await ConnectAsync(node.ProxyUri, "127.0.0.1:25"));
        // The origin's own 403 passes through and is no refusal of the proxy's.
        var (_, originStatus, _) = await c.GetAsync(1, c.Origin.Url(ManagedCluster.Unique("/status/403")));
        Assert.Equal(403, originStatus);

        var m = await ScrapeAsync(ManagedCluster.ManagementUri(node));
        var label = $"node=\"{name}\"";
        double Get(string series) => m.TryGetValue(series, out var v) ? v : throw new Xunit.Sdk.XunitException($"no series {series} in /metrics");
        Assert.True(Get($"cachecluster_request_duration_seconds_count{{outcome=\"hit\",{label}}}") >= 1);
        Assert.True(Get($"cachecluster_request_duration_seconds_count{{outcome=\"miss\",{label}}}") >= 1);
        Assert.True(Get($"cachecluster_request_duration_seconds_bucket{{outcome=\"hit\",{label},le=\"+Inf\"}}") >= 1);
        Assert.True(Get($"cachecluster_responses_total{{code=\"2xx\",{label}}}") >= 2);
        Assert.True(Get($"cachecluster_responses_total{{code=\"4xx\",{label}}}") >= 2);
        Assert.True(Get($"cachecluster_rejections_total{{reason=\"guard\",{label}}}") >= 1);
        Assert.True(Get($"cachecluster_rejections_total{{reason=\"connect-port\",{label}}}") >= 1);
        Assert.Equal(0, Get($"cachecluster_rejections_total{{reason=\"rule\",{label}}}"));
        Assert.Equal(0, Get($"cachecluster_rejections_total{{reason=\"other\",{label}}}"));
        Assert.Equal(0, Get($"cachecluster_tunnels_open{{{label}}}"));
        Assert.True(Get($"cachecluster_requests_in_flight{{{label}}}") >= 0);
        Assert.Contains(m, kv => kv.Key.StartsWith("cachecluster_build_info{version=\"") && kv.Key.Contains(label) && kv.Value == 1);
        // .NET runtime: prometheus-net's process stats and the runtime's own meter.
        Assert.True(Get($"process_working_set_bytes{{{label}}}") > 0);
        Assert.Contains(m.Keys, k => k.StartsWith("dotnet_collection_count_total{"));
        Assert.Contains(m.Keys, k => k.StartsWith("system_runtime_dotnet_gc_heap_total_allocated{"));
        Assert.Contains(m.Keys, k => k.StartsWith("system_runtime_dotnet_thread_pool_thread_count{"));
        // Kestrel: connections open on this node's proxy port (series per listener).
        Assert.Contains(m.Keys, k => k.StartsWith("microsoft_aspnetcore_server_kestrel_kestrel_active_connections{")
            && k.Contains($"server_port=\"{node.ProxyPort}\""));
    }
}
