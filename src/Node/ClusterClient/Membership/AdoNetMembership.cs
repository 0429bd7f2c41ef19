using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Multi-node membership: Orleans' ADO.NET clustering provider on PostgreSQL (invariant "Npgsql"). Every node
/// writes its silo row to OrleansMembershipTable and learns the others from it; failure detection (probes,
/// votes, table refresh) is tuned by the Cluster:* knobs.
/// </summary>
public static class AdoNetMembership
{
    public const string Invariant = "Npgsql";

    /// <summary>
    /// Configures the silo for AdoNet clustering. When Cluster:CreateSchema is true the schema is created (or
    /// brought up to date) right here, before the silo starts, else the database is checked; one that cannot be used stops the node
    /// with a <see cref="NodeConfigurationException"/> naming the key and the server.
    /// </summary>
    public static ISiloBuilder UseAdoNetMembership(this ISiloBuilder silo, ClusterSettings cluster, IConfiguration configuration)
    {
        var connectionString = cluster.ConnectionString
            ?? throw new InvalidOperationException("AdoNet clustering without a connection string (NodeSettings validates this)");

        using (var loggers = LoggerFactory.Create(b => b.AddConfiguration(configuration.GetSection("Logging")).AddSimpleConsole()))
        {
            var log = loggers.CreateLogger("CacheCluster.Node.ClusterClient.Membership");
            try
            {
                // Without schema creation the database is still checked first: a node started while it is away
                // stops with one sentence naming the key and the server, not with Orleans' start-up failure.
                (cluster.CreateSchema
                    ? PostgresSchema.EnsureAsync(connectionString, log, CancellationToken.None, cluster.ConnectionStringKey, TimeSpan.FromSeconds(15))
                    : PostgresSchema.CheckReachableAsync(connectionString, log, CancellationToken.None, cluster.ConnectionStringKey, TimeSpan.FromSeconds(15)))
                    .GetAwaiter().GetResult();
            }
            catch (ClusterDatabaseException ex)
            {
                throw new NodeConfigurationException([ex.Message]);
            }
        }

        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = cluster.ClusterId;
            o.ServiceId = cluster.ServiceId;
        });
        silo.Configure<EndpointOptions>(o =>
        {
            o.AdvertisedIPAddress = cluster.AdvertisedAddress;
            o.SiloPort = cluster.SiloPort;
            o.GatewayPort = ClusterPorts.GatewayPort(cluster); // 0: no gateway listener
        });
        silo.Configure<ClusterMembershipOptions>(o => Apply(cluster, o));
        silo.UseAdoNetClustering(o =>
        {
            o.Invariant = Invariant;
            o.ConnectionString = connectionString;
        });
        WatchDatabase(silo.Services, PostgresConnection.Describe(connectionString));
        return silo;
    }

    /// <summary>
    /// One line when the database becomes unreachable and one when it is back, instead of Orleans' warning with
    /// the exception at every retry (about 7 a minute per node): the table is watched, the retry warnings quieted
    /// meanwhile. Call after UseAdoNetClustering (its table is the one watched).
    /// </summary>
    private static void WatchDatabase(IServiceCollection services, string database)
    {
        services.AddSingleton(sp => new ClusterDatabaseWatch($"PostgreSQL at {database}", sp));
        var table = services.Last(d => d.ServiceType == typeof(IMembershipTable));
        services.Remove(table);
        services.AddSingleton<IMembershipTable>(sp => new WatchedMembershipTable((IMembershipTable)Create(sp, table), sp.GetRequiredService<ClusterDatabaseWatch>()));
        var loggers = services.Last(d => d.ServiceType == typeof(ILoggerFactory));
        services.Remove(loggers);
        services.AddSingleton<ILoggerFactory>(sp => new OutageQuietLoggerFactory(
            loggers.ImplementationType == typeof(LoggerFactory)
                // Spelled out: the constructor the container would pick (filters, options, scopes).
                ? new LoggerFactory(sp.GetServices<ILoggerProvider>(), sp.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
                    sp.GetService<IOptions<LoggerFactoryOptions>>(), sp.GetService<IExternalScopeProvider>())
                : (ILoggerFactory)Create(sp, loggers),
            sp.GetRequiredService<ClusterDatabaseWatch>()));
    }

    private static object Create(IServiceProvider sp, ServiceDescriptor d) =>
        d.ImplementationInstance ?? d.ImplementationFactory?.Invoke(sp) ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!);

    /// <summary>Maps the Cluster:* failure-detection knobs onto Orleans' membership options.</summary>
    public static void Apply(ClusterSettings cluster, ClusterMembershipOptions o)
    {
        o.ProbeTimeout = cluster.ProbeTimeout;
        o.NumMissedProbesLimit = cluster.MissedProbesLimit;
        o.TableRefreshTimeout = cluster.TableRefreshTimeout;
        o.DefunctSiloExpiration = cluster.DefunctSiloExpiration;
        // Dead rows are kept at least this long (Orleans default 1 h); never longer than the expiration asked for.
        if (o.DefunctSiloMinimumRetention > cluster.DefunctSiloExpiration)
            o.DefunctSiloMinimumRetention = cluster.DefunctSiloExpiration;
    }
}
