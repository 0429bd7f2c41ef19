using CacheCluster.Node.FrontEnd.Pac;
using CacheCluster.Node.Policy;
using CacheCluster.Node.Proxy.Upstream;

namespace CacheCluster.Node.Configuration;

/// <summary>
/// Every setting the node reads, validated once at start-up. Each problem is reported with the
/// configuration key it concerns, so an operator can fix appsettings.json, an environment variable
/// (Store__DiskBudget) or a command-line switch (--Store:DiskBudget=2GiB) without guessing.
/// Each section reads itself (<c>XSettings.Read(SettingsReader)</c>, in Sections/ or beside its feature);
/// checks that span sections are here.
/// </summary>
public sealed class NodeSettings
{
    public required string NodeName { get; init; }
    public required ProxySettings Proxy { get; init; }
    public required CacheSettings Cache { get; init; }
    public required StoreSettings Store { get; init; }
    public required ClusterSettings Cluster { get; init; }
    public PacSettings Pac { get; init; } = new();
    public UpstreamSettings Upstream { get; init; } = new();
    /// <summary>Access rules, proxy auth, privacy, limits and the SSRF guard (src/Node/Policy).</summary>
    public PolicySettings Policy { get; init; } = new();
    public ManagementSettings Management { get; init; } = ManagementSettings.Default;
    public AccessLogSettings AccessLog { get; init; } = AccessLogSettings.Off;
    /// <summary>Opt-in TLS interception of CONNECT tunnels (src/Node/Proxy/Intercept).</summary>
    public InterceptSettings Intercept { get; init; } = InterceptSettings.Off;
    /// <summary>Opt-in OpenTelemetry traces (src/Node/Management/Observability/NodeTracing.cs).</summary>
    public TracingSettings Tracing { get; init; } = TracingSettings.Off;

    public static NodeSettings Load(IConfiguration config, string contentRoot)
    {
        var r = new SettingsReader(config, contentRoot);
        r.RejectUnknown("Node", "Name");
        // A node's name must be unique in the cluster (owner hashing uses it): host name plus silo port by default.
        var nodeName = r.String("Node:Name", $"{Environment.MachineName}-{config["Cluster:SiloPort"] ?? "11111"}");
        var store = StoreSettings.Read(r);
        var settings = new NodeSettings
        {
            NodeName = nodeName,
            Proxy = ProxySettings.Read(r),
            Cache = CacheSettings.Read(r, store), // the largest object follows the disk budget
            Store = store,
            Cluster = ClusterSettings.Read(r),
            Pac = PacSettings.Read(r),
            Upstream = UpstreamSettings.Read(r),
            Policy = PolicySettings.Read(r),
            Management = ManagementSettings.Read(r),
            AccessLog = AccessLogSettings.Read(r),
            Intercept = InterceptSettings.Read(r),
            Tracing = TracingSettings.Read(r),
        };
        CheckPorts(r, settings);
        FrontEnd.Tls.HttpsProxySettings.CheckPorts(r, settings);
        r.ThrowIfErrors();
        return settings;
    }

    /// <summary>The proxy, management and cluster listeners never share a port.</summary>
    private static void CheckPorts(SettingsReader r, NodeSettings s)
    {
        foreach (var ep in s.Proxy.Listen)
            if (s.Cluster.UsesPort(ep.Port))
                r.Error("Proxy:Listen", $"port {ep.Port} is already used by the cluster (Cluster:SiloPort / Cluster:GatewayPort)");
        foreach (var ep in s.Management.Listen)
        {
            if (ep.Port != 0 && s.Proxy.Listen.Any(p => p.Port == ep.Port))
                r.Error("Management:Listen", $"port {ep.Port} is also a proxy port (Proxy:Listen): the management API never shares the proxy port");
            if (s.Cluster.UsesPort(ep.Port))
                r.Error("Management:Listen", $"port {ep.Port} is already used by the cluster (Cluster:SiloPort / Cluster:GatewayPort)");
        }
    }
}

/// <summary>Start-up configuration errors, one line per key.</summary>
public sealed class NodeConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
