using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;

// --init-schema: create the PostgreSQL cluster schema and exit (src/Node/Clustering/SchemaCommand.cs).
if (await CacheCluster.Node.Clustering.SchemaCommand.TryRunAsync(args) is int schemaExit) return schemaExit;

try
{
    var app = CacheCluster.Node.Hosting.NodeHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (NodeConfigurationException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}
