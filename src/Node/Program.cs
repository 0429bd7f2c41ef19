using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;

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
