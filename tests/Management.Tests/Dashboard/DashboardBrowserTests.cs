using System.Diagnostics;
using System.Text;
using CacheCluster.Management.Tests.Support;
using Xunit.Abstractions;

namespace CacheCluster.Management.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser: headless Debian Chromium driven by playwright-core (Dashboard/browser,
/// lockfile committed) against a real 3-node cluster: a wrong token is refused, three nodes show, the requests
/// chart moves while traffic flows, a purge from the page makes the next request a miss. Screenshots are kept
/// in tests/Management.Tests/TestResults/dashboard/. Skipped, saying why, without chromium or node.
/// </summary>
public class DashboardBrowserTests(ManagedCluster c, ITestOutputHelper output) : IClassFixture<ManagedCluster>
{
    private const string Chromium = "/usr/bin/chromium";

    private static string ScriptDir([System.Runtime.CompilerServices.CallerFilePath] string here = "") => Path.Combine(Path.GetDirectoryName(here)!, "browser");

    private static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static async Task<(int Exit, string Output)> RunAsync(string file, string args, string dir, IDictionary<string, string>? env, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var text = new StringBuilder();
        var lines = new object();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) text.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) text.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(limit);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            lock (lines) text.AppendLine($"(killed after {limit.TotalSeconds:0} s)");
            return (-1, text.ToString());
        }
        p.WaitForExit();
        lock (lines) return (p.ExitCode, text.ToString());
    }

    [SkippableFact]
    public async Task An_operator_logs_in_watches_traffic_and_purges_from_the_page()
    {
        Skip.IfNot(File.Exists(Chromium), $"needs headless Chromium at {Chromium} (apt-get install chromium; .ci/run installs it)");
        var node = Which("node");
        var npm = Which("npm");
        Skip.If(node is null || npm is null, "needs node and npm on PATH (apt-get install nodejs npm) to drive the browser with playwright-core");
        var dir = ScriptDir();
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "playwright-core")))
        {
            var (exit, text) = await RunAsync(npm!, "ci --no-audit --no-fund", dir, null, TimeSpan.FromMinutes(5));
            Assert.True(exit == 0, $"npm ci in {dir} failed (the npm registry is needed once to install playwright-core):\n{text}");
        }
        var shots = Path.GetFullPath(Path.Combine(dir, "..", "..", "TestResults", "dashboard"));
        var target = c.Origin.Url(ManagedCluster.Unique("/bytes/4k")).ToString();
        var env = new Dictionary<string, string>
        {
            ["DASH_URL"] = new Uri(ManagedCluster.ManagementUri(c.Nodes[0]), "/ui/").ToString(),
            ["DASH_TOKEN"] = ManagedCluster.Token,
            ["PROXY"] = $"{c.Nodes[1].ProxyUri.Host}:{c.Nodes[1].ProxyPort}",
            ["TARGET"] = target,
            ["NODES"] = "3",
            ["SHOTS"] = shots,
            ["CHROMIUM"] = Chromium,
        };
        var (code, log) = await RunAsync(node!, "dashboard-check.mjs", dir, env, TimeSpan.FromMinutes(4));
        output.WriteLine(log);
        output.WriteLine($"screenshots: {shots}");
        Assert.True(code == 0 && log.Contains("ALL OK"), $"the browser check failed (screenshots in {shots}):\n{log}");
        Assert.True(File.Exists(Path.Combine(shots, "dashboard.png")));
    }
}
