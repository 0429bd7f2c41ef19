using CacheCluster.Node.Configuration;
using CacheCluster.Node.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Configuration;

public class ConfigurationTests
{
    private static NodeSettings Load(params (string Key, string Value)[] values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build(), "/tmp");

    [Fact]
    public void Defaults_need_nothing()
    {
        var s = Load();
        Assert.Equal("127.0.0.1:3128", s.Proxy.Listen.Single().ToString());
        Assert.Equal(1L << 30, s.Store.DiskBudgetBytes);
        Assert.Equal(Path.GetFullPath("/tmp/data"), s.Store.Directory);
        Assert.Equal([443], s.Proxy.ConnectPorts);
        Assert.Equal(ClusteringMode.Localhost, s.Cluster.Mode);
        Assert.True(s.Cache.Compression.Enabled);
        Assert.Equal(1024, s.Cache.Compression.MinBytes);
    }

    [Theory]
    [InlineData("Store:DiskBudget", "lots", "Store:DiskBudget: 'lots' is not a size")]
    [InlineData("Store:DiskBudget", "1MiB", "Store:DiskBudget: 1 MiB is too small")]
    [InlineData("Proxy:Listen", "localhost", "Proxy:Listen: 'localhost' is not an address:port")]
    [InlineData("Proxy:OriginTimeout", "soon", "Proxy:OriginTimeout: 'soon' is not a duration")]
    [InlineData("Proxy:OriginTimeout", "60", "Proxy:OriginTimeout: '60' has no unit: write 60s, 60m")] // .NET would read 60 days
    [InlineData("Upstream:HealthCheckInterval", "5", "Upstream:HealthCheckInterval: '5' is not a duration")]
    [InlineData("Proxy:ConnectPorts", "443,99999", "Proxy:ConnectPorts: '99999' is not a TCP port")]
    [InlineData("Proxy:Lisen", "127.0.0.1:1", "Proxy:Lisen: unknown setting")]
    [InlineData("Cluster:Mode", "Zookeeper", "Cluster:Mode: 'Zookeeper' is not one of")]
    [InlineData("Cache:RefreshRules:0", "\\.iso$ 10 20 x", "Cache:RefreshRules:0: freshness rule")]
    [InlineData("Proxy:Sites:www.example.org", "not a url", "Proxy:Sites:www.example.org: 'not a url' is not an origin base URL")]
    [InlineData("Cache:Compression:Types", "text/html,html", "Cache:Compression:Types: 'html' is not a media type pattern")]
    [InlineData("Cache:Compression:Types", "*/json", "Cache:Compression:Types: '*/json' is not a media type pattern")]
    [InlineData("Cache:Compression:BrotliQuality", "12", "Cache:Compression:BrotliQuality: '12' must be a whole number from 0 to 11")]
    [InlineData("Cache:Compression:MinSize", "big", "Cache:Compression:MinSize: 'big' is not a size")]
    [InlineData("Cache:Compression:Level", "9", "Cache:Compression:Level: unknown setting")]
    public void Bad_values_are_reported_with_their_key(string key, string value, string expected)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => Load((key, value)));
        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("500MB", 500L << 20)] // Squid's meaning: every unit is a power of 1024
    [InlineData("512kb", 512L << 10)]
    [InlineData("1048576", 1048576L)]
    [InlineData("16M", 16L << 20)]
    public void Sizes_accept_units(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out var b));
        Assert.Equal(bytes, b);
    }

    [Fact]
    public async Task The_node_process_refuses_to_start_on_bad_config_and_names_the_key()
    {
        await using var node = await NodeProcess.StartAsync(TempDir.Create("badcfg"), Ports.Free(), ["--Store:MemoryBudget=huge"], waitReady: false);
        var code = await node.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains("Store:MemoryBudget: 'huge' is not a size", node.Output);
    }
}
