using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Node.Management.Dashboard;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Management.Tests.Dashboard;

/// <summary>The dashboard's HTTP side on a real 3-node cluster: pages, the JSON API, the token, the live feed.</summary>
public class DashboardApiTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private static HttpClient Http(string? token = ManagedCluster.Token)
    {
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private Uri Ui(int node, string path) => new(ManagedCluster.ManagementUri(c.Nodes[node]), "/ui/" + path);

    private static async Task<(HttpStatusCode Status, JsonElement Json)> PostAsync(HttpClient http, Uri uri, string json)
    {
        using var r = await http.PostAsync(uri, new StringContent(json, Encoding.UTF8, "application/json"));
        return (r.StatusCode, JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task The_page_is_served_on_the_management_port_and_not_on_the_proxy_port()
    {
        using var http = Http(token: null);
        using var page = await http.GetAsync(Ui(1, ""));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("CacheCluster", await page.Content.ReadAsStringAsync());
        using var chartLib = await http.GetAsync(Ui(1, "vendor/uPlot.iife.min.js"));
        Assert.Equal(HttpStatusCode.OK, chartLib.StatusCode);
        using var license = await http.GetAsync(Ui(1, "vendor/uPlot.LICENSE"));
        Assert.Contains("MIT License", await license.Content.ReadAsStringAsync());
        // A revalidation costs a 304.
        using var again = new HttpRequestMessage(HttpMethod.Get, Ui(1, "app.js"));
        again.Headers.TryAddWithoutValidation("If-None-Match", (await http.GetAsync(Ui(1, "app.js"))).Headers.ETag!.ToString());
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(Ui(1, "nothing-here.js"))).StatusCode);

        // The proxy port treats /ui/ as what it is there: a request with no absolute URL, never the dashboard.
        using var viaProxyPort = await http.GetAsync(new Uri(c.Nodes[1].ProxyUri, "/ui/"));
        Assert.NotEqual(HttpStatusCode.OK, viaProxyPort.StatusCode);
        Assert.DoesNotContain("uPlot", await viaProxyPort.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task The_api_needs_the_token()
    {
        using var none = Http(token: null);
        var (status, json) = await PostAsync(none, Ui(0, "api/GetClusterStatus"), "{}");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("needs a token", json.GetProperty("error").GetString());
        using var wrong = Http("not-the-token-at-all");
        (status, json) = await PostAsync(wrong, Ui(0, "api/GetClusterStatus"), "{}");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("wrong", json.GetProperty("error").GetString());
        using var events = await wrong.GetAsync(Ui(0, "api/events"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, events.StatusCode);
    }

    [Fact]
    public async Task The_api_answers_for_the_whole_cluster_with_the_grpc_apis_checks()
    {
        using var http = Http();
        var (status, json) = await PostAsync(http, Ui(2, "api/GetClusterStatus"), "{}");
        Assert.Equal(HttpStatusCode.OK, status);
        var nodes = json.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(3, nodes.Count);
        Assert.All(nodes, n => Assert.Equal("Active", n.GetProperty("state").GetString()));
        Assert.All(nodes, n => Assert.True(long.Parse(n.GetProperty("rssBytes").GetString()!) > 0));

        (status, json) = await PostAsync(http, Ui(2, "api/Purge"), """{"url":"not a url"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not an absolute http(s) URL", json.GetProperty("error").GetString());
        (status, json) = await PostAsync(http, Ui(2, "api/Purge"), """{"nonsense": 1}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, _) = await PostAsync(http, Ui(2, "api/Shutdown"), "{}");
        Assert.Equal(HttpStatusCode.NotFound, status);

        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/2k"));
        await c.GetAsync(0, url);
        Assert.Contains("hit", (await c.GetAsync(1, url)).CacheStatus);
        (status, json) = await PostAsync(http, Ui(2, "api/Purge"), JsonSerializer.Serialize(new { url = url.ToString() }));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("1", json.GetProperty("purged").GetString());
        Assert.Contains("fwd=uri-miss", (await c.GetAsync(1, url)).CacheStatus);
    }

    [Fact]
    public async Task Many_browsers_share_one_sampler_that_stops_when_they_leave()
    {
        var feed = c.Nodes[0].Services.GetRequiredService<DashboardFeed>();
        using var http = Http();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long before = feed.SamplesTaken;
        var started = DateTime.UtcNow;
        // Five listeners at once, each reading until it has seen three samples.
        var listeners = Enumerable.Range(0, 5).Select(async _ =>
        {
            using var r = await http.GetAsync(Ui(0, "api/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
            Assert.Equal("text/event-stream", r.Content.Headers.ContentType!.MediaType);
            using var reader = new StreamReader(await r.Content.ReadAsStreamAsync(cts.Token));
            var events = new List<string>();
            JsonElement last = default;
            while (events.Count(e => e == "sample") < 3 && await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.StartsWith("event: ")) events.Add(line[7..]);
                else if (line.StartsWith("data: ") && events[^1] == "sample") last = JsonDocument.Parse(line[6..]).RootElement.Clone();
            }
            Assert.Equal("history", events[0]);
            return last;
        }).ToList();
        var samples = await Task.WhenAll(listeners);
        var elapsed = DateTime.UtcNow - started;
        // One sample a second for everyone, not one per listener.
        long taken = feed.SamplesTaken - before;
        Assert.True(taken <= elapsed.TotalSeconds + 2, $"{taken} samples in {elapsed.TotalSeconds:0.0} s for 5 listeners");
        foreach (var s in samples)
        {
            Assert.Equal(3, s.GetProperty("nodes").GetArrayLength());
            var share = s.GetProperty("nodes").EnumerateArray().Sum(n => n.GetProperty("keySpaceShare").GetDouble());
            Assert.InRange(share, 0.99, 1.01);
        }
        // Gone: no listener, no sampling.
        for (int i = 0; i < 50 && feed.Listeners > 0; i++) await Task.Delay(100);
        Assert.Equal(0, feed.Listeners);
        long idle = feed.SamplesTaken;
        await Task.Delay(2500);
        Assert.True(feed.SamplesTaken - idle <= 1, "the sampler stops when nobody listens");
    }

    [Fact]
    public async Task Samples_carry_client_latency_percentiles_while_requests_flow()
    {
        using var http = Http();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var r = await http.GetAsync(Ui(1, "api/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await r.Content.ReadAsStreamAsync(cts.Token));
        var traffic = Task.Run(async () =>
        {
            for (int i = 0; i < 40 && !cts.IsCancellationRequested; i++) { await c.GetAsync(i % 3, c.Origin.Url("/bytes/1k?latency-chart")); await Task.Delay(50); }
        });
        double? p50 = null, p99 = null;
        string? evt = null;
        while (p99 is null && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("event: ")) evt = line[7..];
            else if (line.StartsWith("data: ") && evt == "sample")
            {
                var cluster = JsonDocument.Parse(line[6..]).RootElement.GetProperty("cluster");
                if (cluster.GetProperty("clientLatencyP99Ms").ValueKind == JsonValueKind.Number)
                    (p50, p99) = (cluster.GetProperty("clientLatencyP50Ms").GetDouble(), cluster.GetProperty("clientLatencyP99Ms").GetDouble());
            }
        }
        await traffic;
        Assert.NotNull(p99);
        Assert.InRange(p50!.Value, 1, p99.Value); // bucket upper bounds in ms: at least the first (1 ms)
    }
}
