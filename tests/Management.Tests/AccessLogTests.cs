using System.Text.Json;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Management.Tests;

/// <summary>The access log: Squid's native format by default (exactly as Squid 5–6 writes it), NCSA common/combined and JSON lines as options, SIGUSR1 reopen, rotation by size.</summary>
public class AccessLogTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync();
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    internal static async Task<string[]> WaitForLinesAsync(string path, int count)
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

    [Fact] // Squid's logformat squid: %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
    public async Task Squid_native_format_field_for_field()
    {
        var dir = TempDir.Create("accesslog");
        var path = Path.Combine(dir, "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["AccessLog:Path"] = path });
        using var client = node.CreateClient();
        var url = _origin.Url("/bytes/2k?ct=text/html&token=secret");
        var before = DateTimeOffset.UtcNow;
        (await client.GetAsync(url)).Dispose();
        var afterMiss = DateTimeOffset.UtcNow;
        (await client.GetAsync(url)).Dispose();
        (await client.GetAsync(new Uri("http://127.0.0.1:1/refused"))).Dispose();

        var lines = await WaitForLinesAsync(path, 3);
        // Fixed widths as Squid prints them: seconds.millis, then the elapsed time right-aligned in 6 columns.
        Assert.Matches(@"^\d{10}\.\d{3} [ \d]{5}\d \S", lines[0]);
        var miss = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10, miss.Length);
        // The completion time, not the start: no earlier than the start plus the elapsed time.
        var ts = DateTimeOffset.FromUnixTimeMilliseconds((long)(decimal.Parse(miss[0], System.Globalization.CultureInfo.InvariantCulture) * 1000));
        Assert.InRange(ts, before.AddMilliseconds(-1), afterMiss.AddMilliseconds(1));
        Assert.True(ts.AddMilliseconds(-int.Parse(miss[1])) >= before.AddMilliseconds(-2), $"{ts:O} - {miss[1]}ms is before {before:O}");
        Assert.Equal("127.0.0.1", miss[2]);
        Assert.Equal("TCP_MISS/200", miss[3]);
        Assert.InRange(long.Parse(miss[4]), 2048, 2048 + 1000); // body plus headers
        Assert.Equal("GET", miss[5]);
        Assert.Equal(_origin.Url("/bytes/2k?").ToString(), miss[6]); // strip_query_terms: the '?' stays, the terms go
        Assert.Equal("-", miss[7]);
        Assert.Equal("HIER_DIRECT/127.0.0.1", miss[8]); // the server's address, never a name
        Assert.Equal("text/html", miss[9]);

        var hit = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches("^TCP_(MEM_)?HIT/200$", hit[3]);
        Assert.Equal("HIER_NONE/-", hit[8]);

        var error = lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TCP_MISS/502", error[3]); // an origin failure is not the client going away
        Assert.Equal("HIER_NONE/-", error[8]);
        Assert.Equal("text/plain", error[9]); // Squid's %mt: the type without parameters
    }

    [Fact] // CONNECT tunnels are Squid's TCP_TUNNEL/200 with the server's address; refusals and bad requests as Squid logs them
    public async Task Tunnels_denials_and_bad_requests_as_Squid_logs_them()
    {
        await using var tls = await OriginServer.StartAsync(new OriginOptions { EnableHttps = true });
        var path = Path.Combine(TempDir.Create("accesslog-codes"), "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["AccessLog:StripQuery"] = "false",
            ["Proxy:ConnectPorts"] = $"443,{tls.HttpsUrl("/").Port}",
            ["Access:Rules:0"] = "deny dstdomain=denied.example",
            ["Access:Rules:1"] = "allow all",
        });
        var https = tls.HttpsUrl("/bytes/3k");
        var (code, size) = Curl("-k", "-o", "/dev/null", "-w", "%{size_download}", "-x", node.ProxyUri.ToString(), https.ToString());
        Assert.Equal(0, code);
        Assert.Equal("3072", size);
        using var client = node.CreateClient();
        using (var denied = await client.GetAsync("http://denied.example/x?y=1")) Assert.Equal(403, (int)denied.StatusCode);
        // OPTIONS * is for the proxy itself, not to be forwarded: a bad request for a forward proxy.
        Assert.Equal("400", Curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "OPTIONS", "--request-target", "*",
            "-x", node.ProxyUri.ToString(), "http://example.com/").Output);

        var lines = await WaitForLinesAsync(path, 3);
        var tunnel = lines.Single(l => l.Contains(" CONNECT ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TCP_TUNNEL/200", tunnel[3]);
        Assert.InRange(long.Parse(tunnel[4]), 3 * 1024, 3 * 1024 + 8000); // the tunnel's bytes to the client (TLS included)
        Assert.Equal($"127.0.0.1:{https.Port}", tunnel[6]);
        Assert.Equal("-", tunnel[7]);
        Assert.Equal("HIER_DIRECT/127.0.0.1", tunnel[8]);
        Assert.Equal("-", tunnel[9]);

        var refusal = lines.Single(l => l.Contains("denied.example")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("TCP_DENIED/403", refusal[3]);
        Assert.Equal("http://denied.example/x?y=1", refusal[6]); // StripQuery=false keeps the terms
        Assert.Equal("HIER_NONE/-", refusal[8]);

        var bad = lines.Single(l => l.Contains(" OPTIONS ")).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("NONE_NONE/400", bad[3]);
        Assert.Equal("HIER_NONE/-", bad[8]);
    }

    [Theory] // Apache/NCSA: %h %l %u [%t] "%r" %>s %b, and combined's "Referer" "User-Agent"
    [InlineData("common", @"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] ""GET http://127\.0\.0\.1:\d+/bytes/1k\? HTTP/1\.1"" 200 \d+$")]
    [InlineData("combined", @"^127\.0\.0\.1 - - \[[^\]]+\] ""GET http://127\.0\.0\.1:\d+/bytes/1k\? HTTP/1\.1"" 200 \d+ ""http://ref\.example/"" ""test-agent/1\.0""$")]
    public async Task Common_and_combined_formats(string format, string pattern)
    {
        var path = Path.Combine(TempDir.Create("accesslog-" + format), "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["AccessLog:Format"] = format,
        });
        using var client = node.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, _origin.Url("/bytes/1k?a=b"));
        request.Headers.Referrer = new Uri("http://ref.example/");
        request.Headers.UserAgent.ParseAdd("test-agent/1.0");
        (await client.SendAsync(request)).Dispose();
        Assert.Matches(pattern, (await WaitForLinesAsync(path, 1))[0]);
    }

    [Fact] // logrotate moves the file and sends SIGUSR1 (as to Squid): the node writes a new file by the old name
    public async Task SIGUSR1_reopens_the_file_after_logrotate_moved_it()
    {
        var dir = TempDir.Create("accesslog-usr1");
        var path = Path.Combine(dir, "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["AccessLog:MaxSize"] = "0",
        });
        using var client = node.CreateClient();
        (await client.GetAsync(_origin.Url("/bytes/100?n=1"))).Dispose();
        await WaitForLinesAsync(path, 1);
        File.Move(path, path + ".1");
        (await client.GetAsync(_origin.Url("/bytes/100?n=2"))).Dispose();
        await WaitForLinesAsync(path + ".1", 2); // still writing to the moved file, as with Squid before -k rotate
        var kill = System.Diagnostics.Process.Start("kill", ["-USR1", Environment.ProcessId.ToString()])!;
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
        for (int i = 0; i < 100 && !File.Exists(path); i++) await Task.Delay(50); // the writer lets go of the old file at once
        Assert.True(File.Exists(path), "SIGUSR1 did not reopen the log");
        (await client.GetAsync(_origin.Url("/bytes/100?n=3"))).Dispose();
        var fresh = await WaitForLinesAsync(path, 1);
        Assert.Single(fresh);
        Assert.Equal(2, (await WaitForLinesAsync(path + ".1", 2)).Length);
    }

    [Fact] // Squid's _ABORTED: the client went away before its answer was complete
    public async Task A_client_that_goes_away_is_ABORTED_and_nothing_else_is()
    {
        var path = Path.Combine(TempDir.Create("accesslog-aborted"), "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["AccessLog:Path"] = path });
        // curl gives up after 1 s on a body the origin sends slowly.
        var (code, _) = Curl("-o", "/dev/null", "--max-time", "1", "-x", node.ProxyUri.ToString(), _origin.Url("/slow-body/1m").ToString());
        Assert.NotEqual(0, code);
        var line = (await WaitForLinesAsync(path, 1))[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches("^TCP_MISS_ABORTED/(200|000)$", line[3]);
        Assert.Equal("HIER_DIRECT/127.0.0.1", line[8]);
    }

    /// <summary>Runs curl (a real client) and returns its exit code and standard output.</summary>
    internal static (int Code, string Output) Curl(params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-s", "--max-time", "20", "--noproxy", "", .. args]) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

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
            ["AccessLog:StripQuery"] = "false",
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
