using System.Net;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;

namespace CacheCluster.Node.Tests.Hosting;

/// <summary>`--config FILE` and SIGHUP, as an operator uses them on a real node process (issue 14).</summary>
public class ConfigReloadTests
{
    [Fact]
    public async Task Sighup_rereads_the_config_file_and_its_lists_and_a_bad_one_changes_nothing()
    {
        var dir = TempDir.Create("reload");
        var list = Path.Combine(dir, "blocked.txt");
        var config = Path.Combine(dir, "proxy.json");
        await File.WriteAllTextAsync(list, "blocked.invalid\n");
        await using var origin = await OriginServer.StartAsync();
        var port = Ports.Free();
        // Relative paths in the config are read against the node's working folder: give the list by full path.
        await File.WriteAllTextAsync(config, Rules($"deny name=blocked dstdomain=\"{list}\""));
        await using var node = await NodeProcess.StartAsync(TempDir.Create("reload-data"), port, ["--config", config]);
        using var client = Clients.ViaProxy(node.ProxyUri, TimeSpan.FromSeconds(10));
        var url = $"http://localhost:{origin.HttpBase.Port}/bytes/1k?cc=no-store";

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(url)).StatusCode);

        // The list names the host now: after SIGHUP the rule from the --config file denies it.
        await File.WriteAllTextAsync(list, "blocked.invalid\nlocalhost\n");
        Signal(node.Pid, "HUP");
        await Until(() => node.Output.Contains("Configuration reloaded"), node);
        using (var denied = await client.GetAsync(url))
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);

        // A config with an error is refused whole, named by key; the rules in force stay.
        await File.WriteAllTextAsync(list, "blocked.invalid\n");
        await File.WriteAllTextAsync(config, Rules($"deny name=blocked dstdomain=\"{list}\"").Replace("\"Cache\": {", "\"Cache\": { \"HeuristicMax\": \"60\","));
        Signal(node.Pid, "HUP");
        await Until(() => node.Output.Contains("Configuration reload refused"), node);
        Assert.Contains("Cache:HeuristicMax: '60' has no unit", node.Output);
        using (var still = await client.GetAsync(url))
            Assert.Equal(HttpStatusCode.Forbidden, still.StatusCode);
        Assert.False(node.HasExited, "SIGHUP must not stop the node");
    }

    [Fact]
    public async Task A_sighup_while_the_node_is_still_starting_is_run_once_it_has_started_not_fatal()
    {
        // SIGHUP's default action ends a process; the proxy port can open before the reload service has started.
        var port = Ports.Free();
        await using var node = await NodeProcess.StartAsync(TempDir.Create("reload-early"), port, waitReady: false);
        var started = DateTime.UtcNow;
        while (!node.Output.Contains("Store opened") && DateTime.UtcNow - started < TimeSpan.FromSeconds(60) && !node.HasExited)
            await Task.Delay(20);
        Signal(node.Pid, "HUP");
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await Until(() => node.Output.Contains("Configuration reloaded"), node);
        Assert.False(node.HasExited, "a SIGHUP during start-up must not stop the node");
    }

    [Fact]
    public async Task A_missing_config_file_stops_the_start_with_its_name()
    {
        var (code, output) = await NodeProcess.RunToExitAsync(["--config", "/nonexistent/proxy.json"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains("--config: the file '/nonexistent/proxy.json' does not exist", output);
    }

    private static string Rules(string deny) =>
        $$"""{ "Cache": { "RefreshRules": [] }, "Access": { "Rules": [ {{System.Text.Json.JsonSerializer.Serialize(deny)}}, "allow name=local src=127.0.0.1,::1", "deny name=rest" ] } }""";

    private static void Signal(int pid, string signal) =>
        System.Diagnostics.Process.Start("kill", ["-" + signal, pid.ToString()])!.WaitForExit(5000);

    private static async Task Until(Func<bool> condition, NodeProcess node)
    {
        for (int i = 0; i < 300 && !condition(); i++) await Task.Delay(100); // 30 s: CI runs test projects side by side
        Assert.True(condition(), node.Output);
    }
}
