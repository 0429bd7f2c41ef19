using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Hosting;

/// <summary>A normal start and SIGTERM stop print no warning, error or stack trace (issue 14: logs speak to operators).</summary>
public class QuietLogTests
{
    [Fact]
    public async Task A_normal_start_and_stop_log_nothing_to_act_on()
    {
        await using var node = await NodeProcess.StartAsync(TempDir.Create("quiet"), Ports.Free());
        await Task.Delay(1000); // let start-up logging finish
        node.Terminate();
        Assert.Equal(0, await node.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        await Task.Delay(200); // drain the output readers
        var lines = node.Output.Split('\n');
        var noisy = lines.Where(l => l.StartsWith("warn:") || l.StartsWith("fail:") || l.StartsWith("crit:") || l.TrimStart().StartsWith("at ")).ToList();
        Assert.True(noisy.Count == 0, "unexpected lines:\n" + string.Join("\n", noisy) + "\n--- whole output ---\n" + node.Output);
        Assert.Contains(lines, l => l.Contains("Store closed"));
    }
}
