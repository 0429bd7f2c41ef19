using System.Diagnostics;
using System.Net;
using CacheCluster.TestOrigin;
using Npgsql;

namespace CacheCluster.Cluster.Tests.Support;

/// <summary>
/// Node processes as separate hosts: each real node (`dotnet CacheCluster.Node.dll`) runs in its own network
/// namespace on a bridge (<see cref="HostsNetwork"/>), with AdoNet membership in the test PostgreSQL reached
/// through a forwarder on the bridge (PostgreSQL itself stays on loopback), the test origin and the test
/// clients on the bridge's first address. Every node uses the same ports inside its own namespace.
/// </summary>
public sealed class HostsCluster : IAsyncDisposable
{
    public const int ProxyPort = 44128, ManagementPort = 44129, SiloPort = 44111, GatewayPort = 44300;
    /// <summary>The management port is on the bridge, not loopback, so the node requires a token (gRPC calls send it).</summary>
    public const string ManagementToken = "hosts-cluster-test-token";

    /// <summary>The fast failure-detection settings (README, "Cluster on PostgreSQL"); a bridge is as fast as loopback.</summary>
    public static readonly string[] FastDetection =
        ["--Cluster:ProbeTimeout=1s", "--Cluster:MissedProbesLimit=2", "--Cluster:TableRefreshTimeout=2s"];

    private readonly PostgresFixture _pg;
    private readonly Dictionary<int, string> _dirs = [];
    private readonly List<NodeProcess> _retired = [];
    private readonly HttpClient _plain = new() { Timeout = TimeSpan.FromSeconds(5) };
    /// <summary>Once a node has been ready the schema exists: later starts skip creating it, as a restarted pod would.</summary>
    private bool _schemaCreated;

    public HostsNetwork Network { get; }
    public TcpForwarder Database { get; }
    public OriginServer Origin { get; }
    public string ConnectionString { get; }
    public string ClusterId { get; } = $"hosts-{Guid.NewGuid():N}"[..18];
    public Dictionary<int, NodeProcess> Nodes { get; } = [];
    public string[] ExtraArgs { get; init; } = [];

    private HostsCluster(PostgresFixture pg, HostsNetwork network, TcpForwarder database, OriginServer origin, string cs)
    {
        _pg = pg;
        Network = network;
        Database = database;
        Origin = origin;
        ConnectionString = cs;
    }

    /// <summary>A cluster of <paramref name="hosts"/> empty hosts (no node started), or null and why namespaces are not possible here.</summary>
    public static async Task<(HostsCluster? Cluster, string Why)> TryCreateAsync(PostgresFixture pg, int hosts, string[]? extraArgs = null)
    {
        var net = HostsNetwork.TryCreate(out var why);
        if (net is null) return (null, why);
        try
        {
            for (int h = 1; h <= hosts; h++) net.AddHost(h);
            var local = new NpgsqlConnectionStringBuilder(await pg.CreateDatabaseAsync("hosts"));
            var forwarder = new TcpForwarder(net.ServiceAddress, new IPEndPoint(IPAddress.Loopback, local.Port));
            var cs = new NpgsqlConnectionStringBuilder(local.ConnectionString) { Host = forwarder.EndPoint.Address.ToString(), Port = forwarder.EndPoint.Port };
            var origin = await OriginServer.StartAsync(new OriginOptions { Address = net.ClientAddress, MaxRecordedRequests = 1000 });
            return (new HostsCluster(pg, net, forwarder, origin, cs.ConnectionString) { ExtraArgs = extraArgs ?? [] }, "");
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    public Uri ProxyUri(int host) => new($"http://{Network.HostAddress(host)}:{ProxyPort}/");
    public Uri ManagementUri(int host) => new($"http://{Network.HostAddress(host)}:{ManagementPort}/");

    /// <summary>Starts node <paramref name="host"/> in its namespace (same name and store as before on a restart).</summary>
    public NodeProcess Start(int host, params string[] extra)
    {
        if (Nodes.TryGetValue(host, out var old)) { _retired.Add(old); Nodes.Remove(host); }
        if (!_dirs.TryGetValue(host, out var dir)) _dirs[host] = dir = TempDir.Create($"host{host}");
        var address = Network.HostAddress(host);
        var node = NodeProcess.Start($"node{host}", ProxyPort, SiloPort,
        [
            "--Cluster:Mode=AdoNet",
            $"--Cluster:ConnectionString={ConnectionString}",
            $"--Cluster:ClusterId={ClusterId}",
            $"--Cluster:AdvertisedAddress={address}",
            "--Cluster:Tls:Mode=Off", // the bridge is ours; mutual TLS is covered by ClusterTlsTests
            $"--Cluster:SiloPort={SiloPort}",
            $"--Cluster:GatewayPort={GatewayPort}",
            $"--Proxy:Listen={address}:{ProxyPort}",
            $"--Management:Listen={address}:{ManagementPort}",
            $"--Management:Token={ManagementToken}",
            $"--Store:Directory={dir}",
            $"--Node:Name=node{host}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:CacheCluster=Information",
            .. FastDetection,
            .. _schemaCreated ? ["--Cluster:CreateSchema=false"] : Array.Empty<string>(),
            .. ExtraArgs,
            .. extra,
        ], Network.Namespace(host), address);
        Nodes[host] = node;
        return node;
    }

    /// <summary>Waits until the node's /healthz/ready answers 200 (its store is open and the silo is active).</summary>
    public async Task WaitReadyAsync(int host, TimeSpan timeout)
    {
        var node = Nodes[host];
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < timeout)
        {
            if (node.HasExited) throw new InvalidOperationException($"{node.Name} exited with {node.ExitCode}:\n{node.Output}");
            try
            {
                using var r = await _plain.GetAsync(new Uri(ManagementUri(host), "healthz/ready"));
                if (r.StatusCode == HttpStatusCode.OK) { _schemaCreated = true; return; }
                last = $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { last = e.Message; }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{node.Name} not ready within {timeout.TotalSeconds:0} s (last: {last}):\n{node.Output}");
    }

    public async Task<List<MemberRow>> WaitForMembersAsync(Func<List<MemberRow>, bool> done, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        List<MemberRow> rows = [];
        while (clock.Elapsed < timeout)
        {
            rows = await Membership.ReadAsync(_pg.ConnectionString(new NpgsqlConnectionStringBuilder(ConnectionString).Database!), ClusterId);
            if (done(rows)) return rows;
            await Task.Delay(200);
        }
        throw new TimeoutException($"{what} not seen within {timeout.TotalSeconds:0} s; membership: {string.Join("; ", rows)}\n{AllOutput()}");
    }

    public static int ActiveCount(List<MemberRow> rows) => rows.Count(r => r.Status == MemberRow.Active);

    /// <summary>The Prometheus text of a node's /metrics (empty when it does not answer).</summary>
    public async Task<string> MetricsAsync(int host)
    {
        try { return await _plain.GetStringAsync(new Uri(ManagementUri(host), "metrics")); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return ""; }
    }

    public string AllOutput(bool full = false) =>
        string.Join("\n", _retired.Concat(Nodes.Values).Select(n => $"---- {n.Name} at {n.Address} (pid {(n.HasExited ? "exited" : n.Pid)}) ----\n{(full ? n.Output : Tail(n.Output, 20000))}"));

    private static string Tail(string s, int max) => s.Length <= max ? s : "…" + s[^max..];

    public async ValueTask DisposeAsync()
    {
        foreach (var n in Nodes.Values.Concat(_retired)) await n.DisposeAsync();
        await Origin.DisposeAsync();
        await Database.DisposeAsync();
        Network.Dispose();
        _plain.Dispose();
        foreach (var d in _dirs.Values)
            try { Directory.Delete(d, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
