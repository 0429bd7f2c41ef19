using System.Net;
using CacheCluster.Node.ClusterClient;
using Microsoft.Extensions.Time.Testing;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>An owner that just timed out is bypassed at once for a while; then one request asks again.</summary>
public class UnresponsiveOwnersTests
{
    private static readonly SiloAddress A = SiloAddress.New(new IPEndPoint(IPAddress.Parse("10.0.0.1"), 11111), 1);
    private static readonly SiloAddress B = SiloAddress.New(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 11111), 1);

    [Fact]
    public void A_timed_out_owner_is_skipped_then_probed_by_one_request_and_cleared_by_an_answer()
    {
        var time = new FakeTimeProvider();
        var owners = new UnresponsiveOwners(time);
        Assert.False(owners.ShouldSkip(A)); // nothing known: ask

        owners.Failed(A);
        Assert.True(owners.ShouldSkip(A));   // bypass at once
        Assert.False(owners.ShouldSkip(B));  // other owners are asked as usual

        time.Advance(UnresponsiveOwners.HoldFor + TimeSpan.FromMilliseconds(1));
        Assert.False(owners.ShouldSkip(A));  // this request probes...
        Assert.True(owners.ShouldSkip(A));   // ...the others keep bypassing meanwhile

        owners.Answered(A);
        Assert.False(owners.ShouldSkip(A));
    }

    [Fact]
    public void A_probe_that_fails_again_holds_the_owner_for_another_period()
    {
        var time = new FakeTimeProvider();
        var owners = new UnresponsiveOwners(time);
        owners.Failed(A);
        time.Advance(UnresponsiveOwners.HoldFor + TimeSpan.FromMilliseconds(1));
        Assert.False(owners.ShouldSkip(A));
        owners.Failed(A);
        time.Advance(UnresponsiveOwners.HoldFor / 2);
        Assert.True(owners.ShouldSkip(A));
    }
}
