using System.Diagnostics;
using System.Text.Json;
using CacheCluster.Contracts.Management;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Observability;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Management.Tests;

/// <summary>
/// cachectl log / StreamAccessLog: every node's access log, live, through one node, filtered on the nodes
/// (the cluster here has no AccessLog:Path: the live log works without a file).
/// </summary>
public class LiveLogTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    private static string[] Args(ManagedCluster c, int node) =>
        ["--address", ManagedCluster.ManagementUri(c.Nodes[node]).ToString(), "--token", ManagedCluster.Token];

    [Fact]
    public async Task Cachectl_log_shows_the_hits_of_one_host_served_by_two_nodes_and_nothing_else()
    {
        var a1 = ManagedCluster.Unique("/bytes/1k?x=1");
        var a2 = ManagedCluster.Unique("/bytes/2k?x=2");
        var b = ManagedCluster.Unique("/bytes/1k?x=3");
        using var log = LiveCli.Start(["log", "--json", "--outcome", "hit", "--host", "site-a.test", "--count", "2", .. Args(c, 2)]);
        await log.WaitForStderrAsync("watching the access log", TimeSpan.FromSeconds(60));

        Assert.DoesNotContain("hit", await c.GetSiteAsync(0, "site-a.test", a1)); // miss: filtered out
        Assert.Contains("hit", await c.GetSiteAsync(1, "site-a.test", a1));       // hit on node 1: shown
        await c.GetSiteAsync(0, "site-b.test", b);
        Assert.Contains("hit", await c.GetSiteAsync(0, "site-b.test", b));        // a hit, other host: filtered out
        Assert.DoesNotContain("hit", await c.GetSiteAsync(0, "site-a.test", a2));
        Assert.Contains("hit", await c.GetSiteAsync(0, "site-a.test", a2));       // hit on node 0: shown

        var (exit, stdout, stderr) = await log.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Equal("hit", l.GetProperty("outcome").GetString()));
        Assert.All(lines, l => Assert.StartsWith("TCP_", l.GetProperty("squidCode").GetString()));
        // Query terms are stripped as in the file log (AccessLog:StripQuery defaults to true).
        Assert.Equal(["http://site-a.test/bytes/1k?", "http://site-a.test/bytes/2k?"], lines.Select(l => l.GetProperty("url").GetString()!).Order().ToArray());
        Assert.Equal(new[] { ManagedCluster.NodeName(c.Nodes[1]), ManagedCluster.NodeName(c.Nodes[0]) }.Order(),
            lines.Select(l => l.GetProperty("node").GetString()).Order());
    }

    [Fact]
    public async Task Squid_lines_by_default_and_the_client_filter_applies()
    {
        using var log = LiveCli.Start(["log", "--client", "127.0.0.0/8", "--outcome", "miss,hit", "--count", "1", .. Args(c, 0)]);
        using var none = LiveCli.Start(["log", "--client", "10.0.0.0/8", .. Args(c, 1)]);
        await log.WaitForStderrAsync("watching the access log", TimeSpan.FromSeconds(60));
        await none.WaitForStderrAsync("watching the access log", TimeSpan.FromSeconds(60));
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        await c.GetAsync(1, url);

        var (exit, stdout, stderr) = await log.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, stderr);
        // Squid's native format: time elapsed client code/status bytes method URL user hierarchy/peer type
        var fields = stdout.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10, fields.Length);
        Assert.Matches(@"^\d+\.\d{3}$", fields[0]);
        Assert.Equal("127.0.0.1", fields[2]);
        Assert.Equal("TCP_MISS/200", fields[3]);
        Assert.Equal("GET", fields[5]);
        Assert.StartsWith($"http://{url.Host}:{url.Port}/bytes/1k?", fields[6]);

        await Task.Delay(ManagementServiceLogPoll * 3); // the other watcher had its chance to see the request
        none.Kill();
        Assert.Equal("", none.Stdout.Trim());
    }

    private static readonly TimeSpan ManagementServiceLogPoll = CacheCluster.Node.Management.ManagementService.LogPollInterval;

    [Fact]
    public async Task Bad_filters_are_refused_with_the_field_named()
    {
        foreach (var (request, field) in new (AccessLogRequest, string)[]
        {
            (new AccessLogRequest { Outcomes = { "hitt" } }, "outcomes"),
            (new AccessLogRequest { Client = "not-an-ip" }, "client"),
            (new AccessLogRequest { Host = "http://x/" }, "host"),
        })
        {
            using var call = c.Client(0).StreamAccessLog(request, ManagedCluster.Call);
            var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
            Assert.StartsWith(field + ":", ex.Status.Detail);
        }
        using var missing = c.Client(0).StreamAccessLog(new AccessLogRequest { Node = "no-such-node" }, ManagedCluster.Call);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => missing.ResponseStream.MoveNext())).StatusCode);
        using var anonymous = c.Client(0).StreamAccessLog(new AccessLogRequest());
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => anonymous.ResponseStream.MoveNext())).StatusCode);
        var cli = await Cli.RunAsync(["log", "--outcome", "hitt", .. Args(c, 0)]);
        Assert.NotEqual(0, cli.ExitCode);
        Assert.Contains("unknown outcome 'hitt'", cli.Stderr);
    }

    [Fact]
    public async Task Watchers_are_forgotten_when_their_stream_ends_so_the_proxy_builds_no_records()
    {
        var live = c.Nodes.Select(n => n.Services.GetRequiredService<LiveAccessLog>()).ToList();
        using (var cts = new CancellationTokenSource())
        {
            using var call = c.Client(0).StreamAccessLog(new AccessLogRequest(), new CallOptions(ManagedCluster.Auth, cancellationToken: cts.Token));
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.All(live, l => Assert.True(l.Watched));
            cts.Cancel();
        }
        var until = Stopwatch.StartNew();
        while (live.Any(l => l.Watched) && until.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(100);
        Assert.All(live, l => Assert.False(l.Watched));
    }

    [Fact]
    public void A_slow_watcher_loses_lines_and_is_told_how_many()
    {
        using var live = new LiveAccessLog(NodeSettings.Load(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build(), Path.GetTempPath()));
        var id = Guid.NewGuid();
        var filter = new LogFilter([], null, null);
        Assert.Empty(live.Poll(id, filter, 100).Lines);
        Assert.True(live.Watched);
        var record = new AccessRecord(DateTimeOffset.UtcNow, TimeSpan.FromMilliseconds(3), "127.0.0.1", RequestOutcome.Hit, "TCP_HIT", 200, 10,
            "GET", "http://example.org/a?b", "HTTP/1.1", null, "HIER_NONE", null, null, null, "text/plain");
        for (int i = 0; i < LiveAccessLog.BufferLines + 25; i++) live.Publish(record);
        var batch = live.Poll(id, filter, LiveAccessLog.BufferLines);
        Assert.Equal(LiveAccessLog.BufferLines, batch.Lines.Length);
        Assert.Equal(25, batch.Dropped);
        Assert.Equal("http://example.org/a?", batch.Lines[0].Url);
        Assert.Equal(0, live.Poll(id, filter, 10).Dropped);
        live.Stop(id);
        Assert.False(live.Watched);
    }

    /// <summary>cachectl as a running process whose output is read while it runs.</summary>
    private sealed class LiveCli : IDisposable
    {
        private readonly Process _p;
        private readonly System.Text.StringBuilder _out = new(), _err = new();
        private readonly Lock _gate = new();

        private LiveCli(Process p) => _p = p;

        public static LiveCli Start(IEnumerable<string> args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Cli.Dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment.Remove("CACHECTL_ADDRESS");
            psi.Environment.Remove("CACHECTL_TOKEN");
            var cli = new LiveCli(new Process { StartInfo = psi });
            cli._p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (cli._gate) cli._out.Append(e.Data).Append('\n'); };
            cli._p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (cli._gate) cli._err.Append(e.Data).Append('\n'); };
            cli._p.Start();
            cli._p.BeginOutputReadLine();
            cli._p.BeginErrorReadLine();
            return cli;
        }

        public string Stdout { get { lock (_gate) return _out.ToString(); } }
        public string Stderr { get { lock (_gate) return _err.ToString(); } }

        public async Task WaitForStderrAsync(string text, TimeSpan limit)
        {
            var until = Stopwatch.StartNew();
            while (!Stderr.Contains(text))
            {
                if (_p.HasExited || until.Elapsed > limit) throw new TimeoutException($"cachectl did not print '{text}': {Stderr}");
                await Task.Delay(50);
            }
        }

        public async Task<(int Exit, string Stdout, string Stderr)> WaitAsync(TimeSpan limit)
        {
            using var cts = new CancellationTokenSource(limit);
            await _p.WaitForExitAsync(cts.Token);
            return (_p.ExitCode, Stdout, Stderr);
        }

        public void Kill()
        {
            if (!_p.HasExited) _p.Kill(entireProcessTree: true);
            _p.WaitForExit(10_000);
        }

        public void Dispose()
        {
            Kill();
            _p.Dispose();
        }
    }
}
