using System.Net;
using System.Text.Json;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Management.Tests.Dashboard;

/// <summary>The dashboard's recent denials: the proxy's own refusals, naming the access rule that denied.</summary>
public class DenialsTests
{
    [Fact]
    public async Task A_request_denied_by_a_rule_shows_with_the_rule_client_and_url_without_query()
    {
        await using var site = await LocalCluster.StartAsync(1, new Dictionary<string, string?>
        {
            ["Access:Rules:0"] = "deny name=no-casino dstdomain=casino.test",
            ["Access:Rules:1"] = "allow name=local-clients src=127.0.0.0/8,::1",
            ["Access:Rules:2"] = "deny name=default-deny",
        });
        using (var client = site.Nodes[0].CreateClient())
        using (var r = await client.GetAsync("http://casino.test/bet?token=s3cr3t"))
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);

        var management = ManagedCluster.ManagementUri(site.Nodes[0]);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var events = await http.GetAsync(new Uri(management, "/ui/api/events"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var reader = new StreamReader(await events.Content.ReadAsStreamAsync(cts.Token));
        JsonElement? denials = null;
        string? evt = null;
        while (denials is null && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("event: ")) evt = line[7..];
            else if (line.StartsWith("data: ") && evt == "sample"
                && JsonDocument.Parse(line[6..]).RootElement.GetProperty("denials") is { ValueKind: JsonValueKind.Array } d)
                denials = d.Clone();
        }
        var denial = Assert.Single(denials!.Value.EnumerateArray());
        Assert.Equal("no-casino", denial.GetProperty("rule").GetString());
        Assert.Equal("rule", denial.GetProperty("reason").GetString());
        Assert.Equal("127.0.0.1", denial.GetProperty("client").GetString());
        Assert.Equal("http://casino.test/bet?", denial.GetProperty("url").GetString());
        Assert.Equal(ManagedCluster.NodeName(site.Nodes[0]), denial.GetProperty("node").GetString());
    }
}
