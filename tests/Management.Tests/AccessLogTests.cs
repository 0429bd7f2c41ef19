using System.Text.Json;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Management.Tests;

/// <summary>The access log: Squid's native format by default, JSON lines as an option, rotation by size.</summary>
public class AccessLogTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static async Task<string[]> WaitForLinesAsync(string path, int count)
    {
        for (int i = 0; i < 100; i++)
        {
            if (File.Exists(path))
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                var lines = new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (lines.Length >= count) return lines;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{path} did not get {count} line(s)");
    }

    [Fact] // the user proxy authentication accepted is the access log's user field
    public async Task The_authenticated_user_is_logged()
    {
        var dir = TempDir.Create("accesslog-user");
        var path = Path.Combine(dir, "access.log");
        var htpasswd = Path.Combine(dir, "htpasswd");
        File.WriteAllText(htpasswd, $"carol:{BCrypt.Net.BCrypt.HashPassword("carol-pw", 5)}\n");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["Auth:HtpasswdFile"] = htpasswd,
            ["Access:Rules:0"] = "allow proxy_auth=*",
        });
        using var client = node.CreateClient();
        client.DefaultRequestHeaders.ProxyAuthorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes("carol:carol-pw")));
        using (var r = await client.GetAsync(_origin.Url("/bytes/1k"))) Assert.Equal(200, (int)r.StatusCode);
        var fields = (await WaitForLinesAsync(path, 1))[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("carol", fields[7]);
    }

    [Fact]
    public async Task Squid_native_format_with_outcome_owner_and_bytes()
    {
        var dir = TempDir.Create("accesslog");
        var path = Path.Combine(dir, "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["AccessLog:Path"] = path });
        using var client = node.CreateClient();
        var url = _origin.Url("/bytes/2k?ct=text/html");
        (await client.GetAsync(url)).Dispose();
        (await client.GetAsync(url)).Dispose();
        (await client.GetAsync(new Uri("http://127.0.0.1:1/refused"))).Dispose();

        var lines = await WaitForLinesAsync(path, 3);
        var miss = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // time elapsed client code/status bytes method URL user hierarchy/peer type
        Assert.Equal(10, miss.Length);
        Assert.Matches(@"^\d{10}\.\d{3}$", miss[0]);
        Assert.True(int.Parse(miss[1]) >= 0);
        Assert.Equal("127.0.0.1", miss[2]);
        Assert.Equal("TCP_MISS/200", miss[3]);
        Assert.InRange(long.Parse(miss[4]), 2048, 2048 + 1000); // body plus headers
        Assert.Equal("GET", miss[5]);
        Assert.Equal(url.ToString(), miss[6]);
        Assert.Equal("-", miss[7]);
        Assert.Equal("HIER_DIRECT/127.0.0.1", miss[8]);
        Assert.Equal("text/html", miss[9]);

        var hit = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TCP_HIT/200", hit[3]);
        Assert.Equal($"HIER_NONE/{ManagedClusterName(node)}", hit[8]);

        var error = lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TCP_MISS_ABORTED/502", error[3]);
    }

    private static string ManagedClusterName(TestNode node) => Support.ManagedCluster.NodeName(node);

    [Fact]
    public async Task Json_lines_on_request()
    {
        var path = Path.Combine(TempDir.Create("accesslog"), "access.json");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["AccessLog:Format"] = "json",
        });
        using var client = node.CreateClient();
        var url = _origin.Url("/bytes/1k");
        (await client.GetAsync(url)).Dispose();
        (await client.GetAsync(url)).Dispose();
        var lines = await WaitForLinesAsync(path, 2);
        using var first = JsonDocument.Parse(lines[0]);
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("miss", first.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(url.ToString(), first.RootElement.GetProperty("url").GetString());
        Assert.Equal(200, first.RootElement.GetProperty("status").GetInt32());
        Assert.Contains("fwd=uri-miss", first.RootElement.GetProperty("cache_status").GetString());
        Assert.Equal("hit", second.RootElement.GetProperty("outcome").GetString());
        Assert.Equal(Support.ManagedCluster.NodeName(node), second.RootElement.GetProperty("owner").GetString());
        Assert.True(second.RootElement.GetProperty("bytes").GetInt64() > 1024);
    }

    [Fact]
    public async Task The_log_rotates_by_size_and_keeps_MaxFiles()
    {
        var dir = TempDir.Create("accesslog");
        var path = Path.Combine(dir, "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["AccessLog:MaxSize"] = "2KiB",
            ["AccessLog:MaxFiles"] = "2",
        });
        using var client = node.CreateClient();
        for (int i = 0; i < 60; i++) (await client.GetAsync(_origin.Url($"/bytes/123?n={i}"))).Dispose();
        for (int i = 0; i < 100 && !File.Exists(path + ".2"); i++) await Task.Delay(100);
        await Task.Delay(500);
        Assert.True(File.Exists(path + ".1"));
        Assert.True(File.Exists(path + ".2"));
        Assert.False(File.Exists(path + ".3"));
        foreach (var f in new[] { path, path + ".1", path + ".2" })
            Assert.InRange(new FileInfo(f).Length, 1, 2048);
        // The newest lines are in the current file.
        Assert.Contains("n=59", await File.ReadAllTextAsync(path));
    }
}
