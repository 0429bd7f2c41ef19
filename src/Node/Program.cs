using CacheCluster.Node.ClusterClient.Membership;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;

// --init-schema: create the PostgreSQL cluster schema and exit (src/Node/ClusterClient/Membership/SchemaCommand.cs).
if (await SchemaCommand.TryRunAsync(args) is int schemaExit) return schemaExit;

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
