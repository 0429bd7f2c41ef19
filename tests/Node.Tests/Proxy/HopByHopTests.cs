using CacheCluster.Node.Proxy;
using Microsoft.Extensions.Primitives;

namespace CacheCluster.Node.Tests.Proxy;

public class HopByHopTests
{
    [Fact]
    public void Names_listed_in_connection_are_hop_by_hop()
    {
        var listed = HopByHop.ConnectionListed(new StringValues(["X-Secret-Hop, keep-alive", "x-other"]));
        Assert.True(HopByHop.Skip("x-secret-hop", listed));
        Assert.True(HopByHop.Skip("X-Other", listed));
        Assert.True(HopByHop.Skip("Transfer-Encoding", listed));
        Assert.False(HopByHop.Skip("X-End-To-End", listed));
        Assert.False(HopByHop.Skip("keep-alive-ish", listed));
    }
}
