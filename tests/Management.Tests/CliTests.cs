using System.Text.Json;
using CacheCluster.Management.Tests.Support;

namespace CacheCluster.Management.Tests;

/// <summary>cachectl run as a process against the running cluster, as an operator or a script would.</summary>
public class CliTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private string Address(int i) => ManagedCluster.ManagementUri(c.Nodes[i]).ToString();

    private string[] Args(int node, params string[] args) => [.. args, "--address", Address(node), "--token", ManagedCluster.Token];

    [Fact]
    public async Task Status_json_lists_every_node()
    {
        var r = await Cli.RunAsync(Args(0, "status", "--json"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var names = doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("name").GetString()).Order().ToList();
        Assert.Equal(c.Nodes.Select(ManagedCluster.NodeName).Order(), names);
        Assert.All(doc.RootElement.GetProperty("nodes").EnumerateArray(), n => Assert.Equal("Active", n.GetProperty("state").GetString()));
    }

    [Fact]
    public async Task Status_table_names_every_node()
    {
        var r = await Cli.RunAsync(Args(1, "status"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var n in c.Nodes) Assert.Contains(ManagedCluster.NodeName(n), r.Stdout);
    }

    [Fact]
    public async Task Address_and_token_come_from_the_environment()
    {
        var r = await Cli.RunAsync(["stats", "--json"], new Dictionary<string, string>
        {
            ["CACHECTL_ADDRESS"] = Address(2),
            ["CACHECTL_TOKEN"] = ManagedCluster.Token,
        });
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(3, doc.RootElement.GetProperty("nodes").GetArrayLength());
        Assert.True(doc.RootElement.GetProperty("cluster").TryGetProperty("hitRatio", out _));
    }

    [Fact]
    public async Task Purge_url_prints_the_count_and_the_url_is_gone_everywhere()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/2k"));
        await c.GetAsync(0, url);
        await c.GetAsync(1, url);
        var r = await Cli.RunAsync(Args(2, "purge", "url", url.ToString()));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("purged 1 entry", r.Stdout);
        for (int i = 0; i < 3; i++) Assert.Equal(504, (await c.GetAsync(i, url, "only-if-cached")).Status);

        var json = await Cli.RunAsync(Args(2, "purge", "url", url.ToString(), "--json"));
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal("0", doc.RootElement.GetProperty("purged").GetString()); // int64 is a JSON string in proto3
    }

    [Fact]
    public async Task Purge_tag_and_inspect()
    {
        var tag = "cli" + Guid.NewGuid().ToString("N")[..8];
        var url = c.Origin.Url(ManagedCluster.Unique($"/bytes/1k?skey={tag}&etag=abc"));
        await c.GetAsync(1, url);
        var inspect = await Cli.RunAsync(Args(0, "inspect", url.ToString(), "--json"));
        Assert.True(inspect.ExitCode == 0, inspect.Stderr);
        using (var doc = JsonDocument.Parse(inspect.Stdout))
        {
            var v = doc.RootElement.GetProperty("variants")[0];
            Assert.Equal("\"abc\"", v.GetProperty("etag").GetString());
            Assert.Equal("1024", v.GetProperty("bodyBytes").GetString());
        }
        var purge = await Cli.RunAsync(Args(0, "purge", "tag", tag));
        Assert.True(purge.ExitCode == 0, purge.Stderr);
        Assert.Contains("purged 1 entry", purge.Stdout);
        var gone = await Cli.RunAsync(Args(0, "inspect", url.ToString()));
        Assert.Equal(3, gone.ExitCode);
        Assert.Contains("NotFound", gone.Stderr);
    }

    [Fact]
    public async Task Warm_reads_urls_from_stdin_and_prints_one_json_line_per_url()
    {
        var urls = Enumerable.Range(0, 4).Select(i => c.Origin.Url(ManagedCluster.Unique($"/bytes/1k?cw={i}")).ToString()).ToList();
        var r = await Cli.RunAsync(Args(1, "warm", "--json", "--concurrency", "3"), stdin: string.Join("\n", urls) + "\n# comment\n\n");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal(200, doc.RootElement.GetProperty("status").GetInt32());
            Assert.Contains(doc.RootElement.GetProperty("url").GetString(), urls);
        }
        foreach (var u in urls) Assert.Contains("hit", (await c.GetAsync(2, new Uri(u))).CacheStatus);

        var failing = await Cli.RunAsync(Args(1, "warm"), stdin: "http://127.0.0.1:1/refused\n");
        Assert.Equal(6, failing.ExitCode);
    }

    [Fact]
    public async Task Policy_set_and_get()
    {
        var rule = "-i \\.cli-policy-test$ 5 20% 30";
        var set = await Cli.RunAsync(Args(0, "policy", "set", "--refresh-rule", rule));
        Assert.True(set.ExitCode == 0, set.Stderr);
        Assert.Contains("applied on 3 node(s)", set.Stdout);
        try
        {
            var get = await Cli.RunAsync(Args(2, "policy", "get"));
            Assert.Equal(0, get.ExitCode);
            Assert.Contains(rule, get.Stdout);
        }
        finally
        {
            Assert.Equal(0, (await Cli.RunAsync(Args(0, "policy", "set", "--clear-refresh-rules"))).ExitCode);
        }
        var bad = await Cli.RunAsync(Args(0, "policy", "set", "--refresh-rule", "nonsense"));
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("policy.refresh_rules", bad.Stderr);
    }

    [Fact]
    public async Task Exit_codes_tell_scripts_what_went_wrong()
    {
        var noToken = await Cli.RunAsync(["status", "--address", Address(0)]);
        Assert.Equal(4, noToken.ExitCode);
        Assert.Contains("Unauthenticated", noToken.Stderr);

        var wrongToken = await Cli.RunAsync(["status", "--address", Address(0), "--token", "wrong-token-wrong-token"]);
        Assert.Equal(4, wrongToken.ExitCode);

        var unreachable = await Cli.RunAsync(["status", "--address", $"127.0.0.1:{Ports.Free()}", "--timeout", "5"]);
        Assert.Equal(5, unreachable.ExitCode);
        Assert.Contains("Unavailable", unreachable.Stderr);

        var usage = await Cli.RunAsync(["purge", "nothing"]);
        Assert.Equal(2, usage.ExitCode);

        var invalid = await Cli.RunAsync(Args(0, "purge", "prefix", "/no-scheme/"));
        Assert.Equal(2, invalid.ExitCode);
        Assert.Contains("prefix:", invalid.Stderr);

        var unknownNode = await Cli.RunAsync(Args(0, "drain", "no-such-node"));
        Assert.Equal(3, unknownNode.ExitCode);
    }
}
