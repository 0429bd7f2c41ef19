using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// <c>CacheCluster.Node --Cluster:Mode=AdoNet --Cluster:ConnectionString=... --init-schema</c>: creates (or updates)
/// the cluster schema in PostgreSQL and exits, without starting a node. Exit codes: 0 done, 1 the database could
/// not be used, 2 invalid configuration. Reads configuration exactly like the node (appsettings.json,
/// environment, command line).
/// </summary>
public static class SchemaCommand
{
    public const string Switch = "--init-schema";

    /// <summary>Null when <paramref name="args"/> does not ask for the command (the node then starts as usual).</summary>
    public static async Task<int?> TryRunAsync(string[] args)
    {
        if (!args.Contains(Switch, StringComparer.OrdinalIgnoreCase)) return null;
        var rest = args.Where(a => !string.Equals(a, Switch, StringComparison.OrdinalIgnoreCase)).ToArray();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = rest, ContentRootPath = AppContext.BaseDirectory });
        NodeSettings settings;
        try { settings = NodeSettings.Load(builder.Configuration, Directory.GetCurrentDirectory()); }
        catch (NodeConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return 2;
        }
        if (settings.Cluster.Mode != ClusteringMode.AdoNet || settings.Cluster.ConnectionString is null)
        {
            await Console.Error.WriteLineAsync($"Cluster:Mode: {Switch} creates the PostgreSQL membership schema; set Cluster:Mode=AdoNet and Cluster:ConnectionString (or Cluster:ConnectionStringFile)");
            return 2;
        }

        using var loggers = LoggerFactory.Create(b => b.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole());
        var log = loggers.CreateLogger("CacheCluster.Node.ClusterClient.Membership");
        try
        {
            await PostgresSchema.EnsureAsync(settings.Cluster.ConnectionString, log, CancellationToken.None,
                settings.Cluster.ConnectionStringKey, TimeSpan.FromSeconds(15));
            return 0;
        }
        catch (ClusterDatabaseException ex)
        {
            loggers.Dispose(); // flush the console logger before the error line
            await Console.Error.WriteLineAsync(ex.Message);
            return 1;
        }
    }
}
