using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace CacheCluster.Node.Tests.Support;

/// <summary>A node run as its own OS process (the built CacheCluster.Node.dll), for kill -9 and exit-code tests.</summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, int proxyPort)
    {
        _process = process;
        ProxyPort = proxyPort;
        ProxyUri = new Uri($"http://127.0.0.1:{proxyPort}/");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int ProxyPort { get; }
    public Uri ProxyUri { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static string NodeDll
    {
        get
        {
            var local = Path.Combine(AppContext.BaseDirectory, "CacheCluster.Node.dll");
            if (File.Exists(Path.Combine(AppContext.BaseDirectory, "CacheCluster.Node.runtimeconfig.json"))) return local;
            // Fall back to the node's own build output (same configuration as this test assembly).
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            var config = dir.Parent?.Name ?? "Debug"; // .../bin/<Configuration>/net10.0/
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
            if (dir is null) throw new InvalidOperationException("Cannot find the repository root (Cluster.sln) above " + AppContext.BaseDirectory);
            return Path.Combine(dir.FullName, "src", "Node", "bin", config, "net10.0", "CacheCluster.Node.dll");
        }
    }

    /// <summary>Starts the node process; waits until its proxy port accepts connections unless <paramref name="waitReady"/> is false.</summary>
    public static async Task<NodeProcess> StartAsync(string dataDir, int proxyPort, IEnumerable<string>? extraArgs = null, bool waitReady = true)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(NodeDll);
        foreach (var a in new[]
                 {
                     $"--Proxy:Listen=127.0.0.1:{proxyPort}",
                     $"--Store:Directory={dataDir}",
                     $"--Cluster:SiloPort={Ports.Free()}",
                     $"--Cluster:GatewayPort={Ports.Free()}",
                     $"--Cluster:ClusterId=test-{Guid.NewGuid():N}",
                     $"--Node:Name=test-node-{proxyPort}",
                     "--Proxy:ViaName=test-node",
                 }.Concat(extraArgs ?? []))
            psi.ArgumentList.Add(a);
        var node = new NodeProcess(Process.Start(psi)!, proxyPort);
        if (waitReady) await node.WaitReadyAsync();
        return node;
    }

    public async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"Node exited with {_process.ExitCode}:\n{Output}");
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", ProxyPort);
                return;
            }
            catch (SocketException) { await Task.Delay(200); }
        }
        throw new TimeoutException("Node did not open its proxy port within 60 s:\n" + Output);
    }

    /// <summary>SIGTERM: what Kubernetes and systemd send; the node drains and checkpoints.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>kill -9: no shutdown hooks, no final checkpoint.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
