using System.Net;
using CacheCluster.Node.ClusterClient.Membership;
using CacheCluster.Node.Configuration;
using Orleans.Configuration;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// What the cluster's own ports expose: the silo port always (other nodes), the Orleans gateway only with
/// Cluster:GatewayEnabled=true (nothing in the node or cachectl uses it: management goes through gRPC), and
/// mutual TLS on both when Cluster:Tls:* names certificates (docs/architecture.md, "Cluster security").
/// </summary>
public static class ClusterPorts
{
    /// <summary>The gateway port handed to Orleans: 0 keeps the gateway from listening at all.</summary>
    public static int GatewayPort(ClusterSettings cluster) => cluster.GatewayEnabled ? cluster.GatewayPort : 0;

    public static void Configure(ISiloBuilder silo, NodeSettings settings, IServiceCollection services)
    {
        var tls = settings.Cluster.Tls;
        silo.Configure<EndpointOptions>(o => o.GatewayPort = GatewayPort(settings.Cluster));
        if (!tls.Enabled) return;
        var validator = new ClusterCertificates(tls);
        services.AddSingleton(validator);
        ClusterCertificates.Use(silo, tls, validator);
    }

    /// <summary>Gives the certificate validator its logger as soon as the host exists (peers may dial before start-up ends).</summary>
    public static void AttachLog(IServiceProvider services)
    {
        if (services.GetService<ClusterCertificates>() is { } validator)
            validator.Log = services.GetRequiredService<ILoggerFactory>().CreateLogger("CacheCluster.Node.Cluster");
    }

    /// <summary>One start-up line saying whether the cluster ports are protected; a loud warning when they are not.</summary>
    public static void LogStartup(IServiceProvider services, NodeSettings settings)
    {
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger("CacheCluster.Node.Cluster");
        var cluster = settings.Cluster;
        var tls = cluster.Tls;
        var address = cluster.Mode == ClusteringMode.Localhost ? IPAddress.Loopback : cluster.AdvertisedAddress;
        var gateway = cluster.GatewayEnabled ? $"gateway on {address}:{cluster.GatewayPort}" : "gateway off";
        if (tls.Enabled)
        {
            log.LogInformation("Cluster TLS on: silo {Address}:{SiloPort}, {Gateway}; mutual TLS with certificate '{Subject}' (expires {Expires:yyyy-MM-dd}), peers must chain to the CA in {Ca}",
                address, cluster.SiloPort, gateway, tls.Certificate!.Subject, tls.Certificate.NotAfter, tls.CaPath);
        }
        else if (tls.LoopbackOnly)
        {
            log.LogInformation("Cluster TLS off: silo {Address}:{SiloPort}, {Gateway}, loopback only (set Cluster:Tls:* before listening on a network address)",
                address, cluster.SiloPort, gateway);
        }
        else
        {
            log.LogWarning("Cluster TLS OFF (Cluster:Tls:Mode=Off) on {Address}: anyone who reaches port {SiloPort}{GatewayPort} can read and write every cache entry. Configure Cluster:Tls:CertificatePath, KeyPath and CaPath, or firewall these ports to the cluster's nodes only",
                address, cluster.SiloPort, cluster.GatewayEnabled ? $" or {cluster.GatewayPort}" : "");
        }
    }
}
