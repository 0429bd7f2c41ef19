using CacheCluster.Grains.Protocol.HotCopies;

namespace CacheCluster.Grains.Tests.Protocol.HotCopies;

/// <summary>The hot-copy gate's request counts: close for each key among many, and fading with time.</summary>
public class FrequencySketchTests
{
    [Fact]
    public void Counts_each_of_many_keys_about_right()
    {
        var sketch = new FrequencySketch(4096);
        for (int k = 0; k < 4096; k++)
            for (int n = 0; n < k % 8; n++) sketch.Increment("http://origin/" + k);
        int exact = 0;
        for (int k = 0; k < 4096; k++)
        {
            int est = sketch.Estimate("http://origin/" + k);
            Assert.True(est >= k % 8, $"key {k}: {est} < {k % 8}"); // a count-min sketch never under-counts before ageing
            if (est == k % 8) exact++;
        }
        Assert.True(exact > 4096 * 9 / 10, $"{exact} of 4096 exact");
    }

    [Fact]
    public void Counts_stop_at_fifteen_and_halve_after_a_period()
    {
        var sketch = new FrequencySketch(64); // period: 640 increments
        for (int i = 0; i < 20; i++) sketch.Increment("popular");
        Assert.Equal(15, sketch.Estimate("popular"));
        for (int i = 0; i < 640 - 20; i++) sketch.Increment("other" + i % 300);
        Assert.Equal(7, sketch.Estimate("popular"));
    }
}
