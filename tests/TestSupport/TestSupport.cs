using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CacheCluster.Tests.Support;

/// <summary>
/// A node run as its own OS process (the built CacheCluster.Node.dll): for kill -9, SIGTERM and exit-code tests.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process, string name, int proxyPort, int siloPort, IPAddress address)
    {
        _process = process;
        Name = name;
        ProxyPort = proxyPort;
        SiloPort = siloPort;
        Address = address;
        ProxyUri = new Uri($"http://{address}:{proxyPort}/");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int ProxyPort { get; }
    public int SiloPort { get; }
    /// <summary>Where the proxy listens: 127.0.0.1, or the node's address in its own network namespace.</summary>
    public IPAddress Address { get; }
    public Uri ProxyUri { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }
    public bool HasExited => _process.HasExited;
    /// <summary>The node's OS process id (RSS and sockets under /proc).</summary>
    public int Pid => _process.Id;
    public int ExitCode => _process.ExitCode;

    public static string NodeDll
    {
        get
        {
            var local = Path.Combine(AppContext.BaseDirectory, "CacheCluster.Node.dll");
            if (File.Exists(Path.Combine(AppContext.BaseDirectory, "CacheCluster.Node.runtimeconfig.json"))) return local;
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            var config = dir.Parent?.Name ?? "Debug"; // .../bin/<Configuration>/net10.0/
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
            if (dir is null) throw new InvalidOperationException("Cannot find the repository root (Cluster.sln) above " + AppContext.BaseDirectory);
            return Path.Combine(dir.FullName, "src", "Node", "bin", config, "net10.0", "CacheCluster.Node.dll");
        }
    }

    /// <summary>
    /// Starts `dotnet CacheCluster.Node.dll args...` (no readiness wait); with <paramref name="netns"/>, inside that
    /// network namespace (`ip netns exec` replaces itself with dotnet, so <see cref="Pid"/> is the node's) with its
    /// proxy on <paramref name="address"/>.
    /// </summary>
    public static NodeProcess Start(string name, int proxyPort, int siloPort, IEnumerable<string> args, string? netns = null, IPAddress? address = null)
    {
        var psi = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (netns is not null)
            foreach (var a in new[] { "netns", "exec", netns, "dotnet" }) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(NodeDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Parallel nodes must not all take the default management port (127.0.0.1:3129).
        if (!psi.ArgumentList.Any(a => a.StartsWith("--Management:Listen", StringComparison.OrdinalIgnoreCase)))
            psi.ArgumentList.Add("--Management:Listen=127.0.0.1:0");
        return new NodeProcess(Process.Start(psi)!, name, proxyPort, siloPort, address ?? IPAddress.Loopback);
    }

    /// <summary>
    /// Starts a single node with its own store in <paramref name="dataDir"/> on <paramref name="proxyPort"/> (free silo
    /// and gateway ports, a fresh cluster id), and waits until its proxy port answers unless <paramref name="waitReady"/> is false.
    /// </summary>
    public static async Task<NodeProcess> StartAsync(string dataDir, int proxyPort, IEnumerable<string>? extraArgs = null, bool waitReady = true)
    {
        var ports = Ports.Free(2);
        var node = Start($"test-node-{proxyPort}", proxyPort, ports[0],
        [
            $"--Proxy:Listen=127.0.0.1:{proxyPort}",
            $"--Store:Directory={dataDir}",
            $"--Cluster:SiloPort={ports[0]}",
            $"--Cluster:GatewayPort={ports[1]}",
            $"--Cluster:ClusterId=test-{Guid.NewGuid():N}",
            $"--Node:Name=test-node-{proxyPort}",
            "--Proxy:ViaName=test-node",
            .. extraArgs ?? [],
        ]);
        if (waitReady) await node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        return node;
    }

    /// <summary>Runs the node executable to completion (for commands such as --init-schema); returns exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(IEnumerable<string> args, TimeSpan timeout)
    {
        await using var p = Start("command", 0, 0, args);
        var code = await p.WaitForExitAsync(timeout);
        await Task.Delay(100); // let the asynchronous output readers drain
        return (code, p.Output);
    }

    /// <summary>
    /// Waits until the node's output contains <paramref name="text"/>: lines logged at start (after the proxy port
    /// opened, when the host reports it started) reach this process a little after the port accepts.
    /// </summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} did not print '{text}' within {timeout.TotalSeconds:0} s:\n{Output}");
            await Task.Delay(100);
        }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync(Address, ProxyPort);
                return;
            }
            catch (SocketException) { await Task.Delay(100); }
        }
        throw new TimeoutException($"{Name} did not open its proxy port within {timeout.TotalSeconds:0} s:\n{Output}");
    }

    /// <summary>SIGTERM: what Kubernetes and systemd send; the node drains and checkpoints.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>kill -9: no shutdown hooks, the silo's membership row stays Active until the others declare it dead.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
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
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}

public static class Ports
{
    public static int Free() => Free(1)[0];

    /// <summary>
    /// A loopback port where connections are refused for as long as the result lives: bound, never listening, so no
    /// other test's listener can take it meanwhile (a port that was merely free once can be, and a "dead" parent then
    /// answered 404).
    /// </summary>
    public static RefusingPort Refusing() => new();

    public sealed class RefusingPort : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        public RefusingPort() => _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;
        public override string ToString() => $"127.0.0.1:{Port}";
        public void Dispose() => _socket.Dispose();
    }

    /// <summary>
    /// Distinct free loopback ports (held open together while choosing, so they differ), below the kernel's ephemeral
    /// range: a port from that range, free when chosen, can become the local port of any outgoing connection (the
    /// tests open thousands) before the node binds it ("address already in use" in CI). Each process starts at a
    /// random point of the range it uses, so test processes running side by side seldom probe the same ports.
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            lock (Gate)
            {
                for (int tried = 0; listeners.Count < count && tried < Span; tried++)
                {
                    int port = Low + (s_next++ - Low) % Span;
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    try { listener.Start(); listeners.Add(listener); }
                    catch (SocketException) { }
                }
            }
            while (listeners.Count < count) // no range below the ephemeral one on this machine: let the kernel choose
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }

    private static readonly Lock Gate = new();
    private const int Low = 10_000;
    private static readonly int Span = Math.Max(0, EphemeralLow() - Low);
    private static int s_next = Low + (Span > 0 ? Random.Shared.Next(Span) : 0);

    private static int EphemeralLow()
    {
        try { return int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0]); }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException) { return 32_768; }
    }
}

public static class TempDir
{
    public static string Create(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), "cachecluster-tests", $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Total size of the files under <paramref name="dir"/> (files vanishing meanwhile count 0).</summary>
    public static long SizeOf(string dir) =>
        Directory.Exists(dir)
            ? new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => { try { return f.Length; } catch (IOException) { return 0; } })
            : 0;
}

public static class Clients
{
    /// <summary>An HttpClient that sends every request, even to loopback, through <paramref name="proxy"/>.</summary>
    /// <param name="drain">false: a disposed, half-read response closes its connection (a real client abort)
    /// instead of SocketsHttpHandler quietly reading up to 1 MiB more to reuse the connection.</param>
    public static HttpClient ViaProxy(Uri proxy, TimeSpan? timeout = null, bool drain = true) =>
        new(new SocketsHttpHandler
        {
            MaxResponseDrainSize = drain ? 1024 * 1024 : 0,
            Proxy = new AlwaysProxy(proxy),
            UseProxy = true,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
        })
        { Timeout = timeout ?? TimeSpan.FromSeconds(60) };

    /// <summary>
    /// Right after a fill through another node: the request is served by the cache, as a hit or (when the fill's
    /// commit has not reached the owner within the leader's commit patience, as on a loaded machine) by following the
    /// fill; then it is a hit within <paramref name="timeout"/>. Returns the Cache-Status of every answer.
    /// </summary>
    public static async Task<IReadOnlyList<string>> HitSoonAsync(HttpClient client, Uri url, TimeSpan timeout)
    {
        var statuses = new List<string>();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            using var r = await client.GetAsync(url);
            if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{url}: {(int)r.StatusCode} ({r.CacheStatus()})");
            statuses.Add(r.CacheStatus());
            if (!statuses[^1].Contains("hit") && !statuses[^1].Contains("collapsed"))
                throw new InvalidOperationException($"{url} was not served by the cache: {string.Join(" | ", statuses)}");
            if (statuses[^1].Contains("hit") || DateTime.UtcNow > deadline) return statuses;
            await Task.Delay(50);
        }
    }

    private sealed class AlwaysProxy(Uri proxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }
        public Uri GetProxy(Uri destination) => proxy;
        public bool IsBypassed(Uri host) => false;
    }
}

public static class ResponseExtensions
{
    public static string CacheStatus(this HttpResponseMessage r) =>
        r.Headers.TryGetValues("Cache-Status", out var v) ? string.Join(", ", v) : "";

    public static string? Header(this HttpResponseMessage r, string name) =>
        r.Headers.TryGetValues(name, out var v) ? string.Join(", ", v)
        : r.Content.Headers.TryGetValues(name, out var c) ? string.Join(", ", c) : null;
}
