using System.Net;

namespace CacheCluster.Node.Configuration;

public enum ClusteringMode { Localhost, AdoNet }

/// <summary>Cluster:* — membership (embedded or PostgreSQL), silo ports, failure detection, mutual TLS.</summary>
public sealed class ClusterSettings
{
    internal static readonly string[] Keys =
        ["Mode", "SiloPort", "GatewayPort", "PrimarySiloPort", "ClusterId", "ServiceId", "ConnectionString", "ConnectionStringFile",
         "CreateSchema", "AdvertisedAddress", "CallTimeout", "ProbeTimeout", "MissedProbesLimit", "TableRefreshTimeout",
         "DefunctSiloExpiration", "GatewayEnabled", "Tls"];

    public required ClusteringMode Mode { get; init; }
    /// <summary>
    /// Localhost mode only: the silo port of the node that hosts the development membership (unset: this node).
    /// Lets several nodes on one machine form a cluster without a database (tests, demos).
    /// </summary>
    public int? PrimarySiloPort { get; init; }
    /// <summary>How long a call to another node's grain may take before it fails (then retried once, then bypassed).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public required int SiloPort { get; init; }
    public required int GatewayPort { get; init; }
    /// <summary>The Orleans gateway (for external Orleans clients) listens only when asked: nothing in the node needs it.</summary>
    public bool GatewayEnabled { get; init; }
    /// <summary>Mutual TLS on the silo and gateway ports (Cluster:Tls:*).</summary>
    public ClusterTlsSettings Tls { get; init; } = new();
    public required string ClusterId { get; init; }
    public required string ServiceId { get; init; }
    /// <summary>AdoNet mode: the PostgreSQL connection string (holds a password: never log it).</summary>
    public string? ConnectionString { get; init; }
    /// <summary>The key the connection string came from (Cluster:ConnectionString or Cluster:ConnectionStringFile), for messages.</summary>
    public string ConnectionStringKey { get; init; } = "Cluster:ConnectionString";
    /// <summary>AdoNet mode: create or update the membership schema at start-up (idempotent).</summary>
    public bool CreateSchema { get; init; } = true;
    /// <summary>AdoNet mode: the address this silo publishes in the membership table and listens on.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;
    // Failure detection (Orleans ClusterMembershipOptions).
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public int MissedProbesLimit { get; init; } = 3;
    public TimeSpan TableRefreshTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan DefunctSiloExpiration { get; init; } = TimeSpan.FromDays(7);

    internal static ClusterSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Cluster", Keys);
        var mode = r.Enum("Cluster:Mode", ClusteringMode.Localhost);
        var (connectionString, connectionStringKey) = mode == ClusteringMode.AdoNet ? r.ConnectionString() : (null, "");
        var advertised = r.Address("Cluster:AdvertisedAddress", IPAddress.Loopback);
        var cluster = new ClusterSettings
        {
            Mode = mode,
            GatewayEnabled = r.Bool("Cluster:GatewayEnabled", false),
            Tls = ClusterTlsSettings.Read(r, mode, advertised),
            SiloPort = r.Port("Cluster:SiloPort", 11111),
            GatewayPort = r.Port("Cluster:GatewayPort", 30000),
            PrimarySiloPort = r.Config["Cluster:PrimarySiloPort"] is null ? null : r.Port("Cluster:PrimarySiloPort", 11111),
            ClusterId = r.String("Cluster:ClusterId", "cache-cluster"),
            ServiceId = r.String("Cluster:ServiceId", "cache-cluster"),
            ConnectionString = connectionString,
            ConnectionStringKey = connectionStringKey,
            CreateSchema = r.Bool("Cluster:CreateSchema", true),
            AdvertisedAddress = advertised,
            // Orleans' defaults; loopback tests and scripts/cluster-up.sh lower them (see README).
            CallTimeout = r.Duration("Cluster:CallTimeout", TimeSpan.FromSeconds(5)),
            ProbeTimeout = r.Duration("Cluster:ProbeTimeout", TimeSpan.FromSeconds(5)),
            MissedProbesLimit = r.Count("Cluster:MissedProbesLimit", 3, min: 1, max: 100),
            TableRefreshTimeout = r.Duration("Cluster:TableRefreshTimeout", TimeSpan.FromSeconds(60)),
            DefunctSiloExpiration = r.Duration("Cluster:DefunctSiloExpiration", TimeSpan.FromDays(7)),
        };
        if (cluster.GatewayEnabled && cluster.SiloPort == cluster.GatewayPort)
            r.Error("Cluster:GatewayPort", $"must differ from Cluster:SiloPort ({cluster.SiloPort})");
        return cluster;
    }

    /// <summary>Whether <paramref name="port"/> is taken by the cluster (silo, or gateway when enabled).</summary>
    internal bool UsesPort(int port) => port == SiloPort || (GatewayEnabled && port == GatewayPort);
}
