using CacheCluster.Grains.Protocol.HotCopies;

namespace CacheCluster.Grains.Tests.Protocol.HotCopies;

/// <summary>The owner's list of nodes holding copies: each change of the head tells each node once.</summary>
public class HotCopyRegistryTests
{
    [Fact]
    public void Taking_the_nodes_forgets_them_so_each_drop_is_sent_once()
    {
        var registry = new HotCopyRegistry();
        Assert.Empty(registry.TakeAll());
        registry.Register("node-a");
        registry.Register("node-b");
        registry.Register("node-a");
        Assert.Equal(2, registry.Count);
        Assert.Equal(["node-a", "node-b"], registry.TakeAll().Order());
        Assert.Equal(0, registry.Count);
        Assert.Empty(registry.TakeAll());
        registry.Register("node-c"); // a copy taken of the new head registers anew
        Assert.Equal(["node-c"], registry.TakeAll());
    }
}
