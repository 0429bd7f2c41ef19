using CacheCluster.Node.ClusterClient.Membership;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;

// --init-schema: create the PostgreSQL cluster schema and exit (src/Node/ClusterClient/Membership/SchemaCommand.cs).
if (await SchemaCommand.TryRunAsync(args) is int schemaExit) return schemaExit;

// SIGHUP's default action ends the process: hold it from the start, so a reload asked for while the node is still
// starting (the proxy port can open before the reload handler is in place) is run once it is, not fatal.
using var earlyHangUp = ConfigReload.HoldEarlySignals();

try
{
    var app = NodeHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (NodeConfigurationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
