using CacheCluster.Node.Configuration;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.Proxy.Steps;

/// <summary>Who may purge: Access:PurgeFrom (default loopback) and the access rules before it.</summary>
public class PurgeAccessTests
{
    [Fact]
    public async Task A_client_outside_Access_PurgeFrom_gets_403_and_nothing_is_purged()
    {
        await using var origin = await OriginServer.StartAsync();
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?> { ["Access:PurgeFrom"] = "192.0.2.0/24" });
        var path = NodeAndOrigin.Unique("/bytes/1k");
        using var client = node.CreateClient();
        (await client.GetAsync(origin.Url(path))).Dispose();

        var purge = await PurgeCurl.ViaProxyAsync(node, origin.Url(path));
        Assert.Equal(403, purge.Status);
        Assert.Contains("PURGE is not allowed from 127.0.0.1 (allowed: Access:PurgeFrom)", purge.Body);
        using var again = await client.GetAsync(origin.Url(path));
        Assert.Contains("hit", again.CacheStatus());
        Assert.Equal(1, origin.RequestCount(path));
        Assert.Equal(0, origin.RequestCount("PURGE", path));
    }

    [Fact]
    public async Task An_access_rule_can_deny_PURGE_by_method()
    {
        await using var origin = await OriginServer.StartAsync();
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Access:Rules:0"] = "deny name=no-purge method=PURGE",
            ["Access:Rules:1"] = "allow name=local src=127.0.0.0/8",
        });
        var purge = await PurgeCurl.ViaProxyAsync(node, origin.Url(NodeAndOrigin.Unique("/bytes/1k")));
        Assert.Equal(403, purge.Status);
        Assert.Contains("access denied by rule 'no-purge'", purge.Body);
    }

    [Theory]
    [InlineData("banana", "Access:PurgeFrom: 'banana' is not an address or CIDR network")]
    [InlineData("127.0.0.0/8,::1/200", "Access:PurgeFrom: '::1/200' is not an address or CIDR network")]
    public void A_bad_PurgeFrom_is_refused_at_start_up_naming_the_key(string value, string expected)
    {
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeSettings.Load(
            new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create("Access:PurgeFrom", (string?)value)]).Build(), "/tmp"));
        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void PurgeFrom_defaults_to_loopback_and_none_allows_nobody()
    {
        static NodeSettings Load(string? v) => NodeSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(v is null ? [] : [KeyValuePair.Create("Access:PurgeFrom", (string?)v)]).Build(), "/tmp");
        Assert.Equal(["127.0.0.0/8", "::1/128"], Load(null).Policy.PurgeFrom.Select(n => n.ToString()));
        Assert.Empty(Load("none").Policy.PurgeFrom);
        Assert.Equal(["10.0.0.0/8", "192.0.2.7/32"], Load("10.0.0.0/8, 192.0.2.7").Policy.PurgeFrom.Select(n => n.ToString()));
    }
}
