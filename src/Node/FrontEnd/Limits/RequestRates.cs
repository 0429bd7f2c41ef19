using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace CacheCluster.Node.FrontEnd.Limits;

/// <summary>
/// Request rates per key (client address or user): a token bucket of <c>burst</c> requests refilled at
/// <c>perSecond</c>, kept as one timestamp per key (GCRA: the time the bucket would be full again).
/// Written by hand because System.Threading.RateLimiting's partitioned token bucket banks the time a bucket sits
/// full and pays it out after the next request, so an idle client got up to twice its burst at once.
/// </summary>
public sealed class RequestRates(int perSecond, int burst)
{
    private const int SweepAbove = 10_000;
    private readonly long _interval = Math.Max(1, Stopwatch.Frequency / Math.Max(1, perSecond));
    private long Window => _interval * Math.Max(1, burst);
    private readonly ConcurrentDictionary<string, StrongBox<long>> _full = new();

    /// <summary>Takes one request; null when allowed, else how long until one would be.</summary>
    public TimeSpan? TryTake(string key)
    {
        long now = Stopwatch.GetTimestamp();
        if (_full.Count > SweepAbove) Sweep(now);
        var box = _full.GetOrAdd(key, static _ => new StrongBox<long>(0));
        while (true)
        {
            long full = Volatile.Read(ref box.Value);
            long after = Math.Max(full, now) + _interval;
            if (after - now > Window) return Stopwatch.GetElapsedTime(0, after - Window - now);
            if (Interlocked.CompareExchange(ref box.Value, after, full) == full) return null;
        }
    }

    /// <summary>Drops keys whose bucket is full again: they hold nothing a fresh key would not.</summary>
    private void Sweep(long now)
    {
        foreach (var (key, box) in _full)
            if (Volatile.Read(ref box.Value) <= now) _full.TryRemove(KeyValuePair.Create(key, box));
    }

    public int Keys => _full.Count;
}
