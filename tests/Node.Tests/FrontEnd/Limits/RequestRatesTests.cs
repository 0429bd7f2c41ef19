using CacheCluster.Node.FrontEnd.Limits;

namespace CacheCluster.Node.Tests.FrontEnd.Limits;

public class RequestRatesTests
{
    [Fact]
    public async Task An_idle_client_gets_its_burst_and_no_more()
    {
        var rates = new RequestRates(perSecond: 2, burst: 4);
        Assert.Equal(4, Enumerable.Range(0, 10).Count(_ => rates.TryTake("a") is null));
        // Refilled and then idle at full for a while: still exactly the burst (the library's bucket gave twice it).
        await Task.Delay(TimeSpan.FromSeconds(2.6));
        var took = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 10; i++) if (rates.TryTake("a") is null) took++;
        Assert.InRange(took, 4, 4 + (int)(2 * started.Elapsed.TotalSeconds));
    }

    [Fact]
    public void A_refused_request_is_told_when_the_next_one_would_pass()
    {
        var rates = new RequestRates(perSecond: 2, burst: 1);
        Assert.Null(rates.TryTake("a"));
        var wait = rates.TryTake("a");
        Assert.NotNull(wait);
        Assert.InRange(wait!.Value.TotalMilliseconds, 1, 500);
        Assert.Null(rates.TryTake("b")); // keys are independent
    }

    [Fact]
    public void Keys_whose_bucket_is_full_again_are_dropped_once_there_are_many()
    {
        var rates = new RequestRates(perSecond: 1_000_000, burst: 1);
        for (int i = 0; i < 10_001; i++) rates.TryTake($"k{i}");
        Thread.Sleep(10); // every bucket is full again after 1 µs
        rates.TryTake("last");
        Assert.True(rates.Keys <= 2, $"{rates.Keys} keys kept");
    }
}
