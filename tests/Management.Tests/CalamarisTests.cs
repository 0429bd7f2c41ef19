using System.Diagnostics;
using System.Text.RegularExpressions;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Management.Tests;

/// <summary>
/// The access log read by calamaris (Debian's Squid log analyser), as an operator replacing Squid would: a real
/// node serves hits, misses, a CONNECT tunnel, a denial and origin errors, and calamaris's totals (requests, hits,
/// bytes by result code) are what was sent. Skipped, saying why, where calamaris is not installed.
/// </summary>
public class CalamarisTests : IAsyncLifetime
{
    private OriginServer _origin = null!;

    public async Task InitializeAsync() => _origin = await OriginServer.StartAsync(new OriginOptions { EnableHttps = true });
    public async Task DisposeAsync() => await _origin.DisposeAsync();

    private static string? CalamarisPath() =>
        new[] { "/usr/bin/calamaris", "/usr/local/bin/calamaris" }.FirstOrDefault(File.Exists);

    [SkippableFact]
    public async Task Calamaris_reports_what_was_sent()
    {
        var calamaris = CalamarisPath();
        Skip.If(calamaris is null, "calamaris is not installed (Debian package `calamaris`; .ci/run installs it)");

        var path = Path.Combine(TempDir.Create("calamaris"), "access.log");
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["AccessLog:Path"] = path,
            ["Proxy:ConnectPorts"] = $"443,{_origin.HttpsUrl("/").Port}",
            ["Access:Rules:0"] = "deny dstdomain=denied.example",
            ["Access:Rules:1"] = "allow all",
        });
        using var client = node.CreateClient();
        long received = 0;
        // 3 misses then 2 hits each (cacheable: the origin's /bytes answers carry freshness).
        for (int u = 0; u < 3; u++)
            for (int i = 0; i < 3; i++)
                using (var r = await client.GetAsync(_origin.Url($"/bytes/{4 + u}k?u={u}")))
                {
                    Assert.Equal(200, (int)r.StatusCode);
                    received += (await r.Content.ReadAsByteArrayAsync()).Length;
                }
        var (curl, size) = AccessLogTests.Curl("-k", "-o", "/dev/null", "-w", "%{size_download}", "-x", node.ProxyUri.ToString(), _origin.HttpsUrl("/bytes/8k").ToString());
        Assert.Equal(0, curl);
        Assert.Equal("8192", size);
        using (var r = await client.GetAsync("http://denied.example/")) Assert.Equal(403, (int)r.StatusCode);
        using (var r = await client.GetAsync("http://127.0.0.1:1/refused")) Assert.Equal(502, (int)r.StatusCode);

        var lines = await AccessLogTests.WaitForLinesAsync(path, 12);
        Assert.Equal(12, lines.Length);
        var fields = lines.Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        long Bytes(Func<string, bool> code) => fields.Where(f => code(f[3].Split('/')[0])).Sum(f => long.Parse(f[4]));
        int Count(Func<string, bool> code) => fields.Count(f => code(f[3].Split('/')[0]));
        Assert.Equal(6, Count(c => c.Contains("HIT")));
        Assert.Equal(4, Count(c => c == "TCP_MISS")); // three fills and the refused origin
        Assert.True(Bytes(c => c.Contains("HIT")) > received / 2, "hit bytes include the bodies the client received from the cache");

        var psi = new ProcessStartInfo(calamaris!) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-a");
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(string.Join('\n', lines) + "\n");
        p.StandardInput.Close();
        var report = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), "calamaris did not finish");
        Assert.True(p.ExitCode == 0, $"calamaris failed: {await p.StandardError.ReadToEndAsync()}");

        long Figure(string label) => long.Parse(Regex.Match(report, @"^" + Regex.Escape(label) + @"\s+\S+\s+(\d+)\s*$", RegexOptions.Multiline) is { Success: true } m
            ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException($"no '{label}' in the calamaris report:\n{report}"));
        Assert.Equal(12, Figure("lines parsed:"));
        Assert.Equal(0, Figure("invalid lines:"));
        Assert.Equal(12, Figure("Total amount:"));
        Assert.Equal(Bytes(_ => true), Figure("Total Bandwidth:"));
        Assert.Equal(6, Figure("Total amount cached:"));
        Assert.Equal(Bytes(c => c.Contains("HIT")), Figure("Bandwidth savings:"));

        // "Incoming TCP-requests by status": every result code with its requests and bytes, grouped HIT/MISS/ERROR.
        var section = report[report.IndexOf("# Incoming TCP-requests by status", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\nSum", StringComparison.Ordinal)];
        var rows = Regex.Matches(section, @"^(\S+|\s\S+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+(\d+)\s", RegexOptions.Multiline)
            .Select(m => (Name: m.Groups[1].Value, Requests: int.Parse(m.Groups[2].Value), Bytes: long.Parse(m.Groups[3].Value))).ToList();
        var group = rows.Where(r => !r.Name.StartsWith(' ')).ToDictionary(r => r.Name, r => r, StringComparer.Ordinal);
        Assert.Equal((6, Bytes(c => c.Contains("HIT"))), (group["HIT"].Requests, group["HIT"].Bytes));
        // The tunnel is a success (Squid's TCP_TUNNEL counts with the misses), the denial and the origin's failure are errors.
        Assert.Equal((4, Bytes(c => c is "TCP_TUNNEL") + fields.Where(f => f[3] == "TCP_MISS/200").Sum(f => long.Parse(f[4]))),
            (group["MISS"].Requests, group["MISS"].Bytes));
        Assert.Equal((2, fields.Where(f => f[3] is "TCP_DENIED/403" or "TCP_MISS/502").Sum(f => long.Parse(f[4]))),
            (group["ERROR"].Requests, group["ERROR"].Bytes));
        Assert.Contains(rows, r => r.Name == " TCP_TUNNEL" && r.Requests == 1 && r.Bytes > 8 * 1024);
        Assert.Contains(rows, r => r.Name == " TCP_DENIED" && r.Requests == 1);
    }
}
