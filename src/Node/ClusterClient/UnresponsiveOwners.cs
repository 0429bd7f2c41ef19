using System.Collections.Concurrent;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// Nodes whose entries could not be asked for lately (a look-up timed out). Until membership decides about such a
/// node (several seconds), every request for a key it owns would wait out two call timeouts before bypassing the
/// cache; after one such failure the next requests bypass at once. After <see cref="HoldFor"/> one request asks
/// again (the others keep bypassing meanwhile); an answer clears the node.
/// </summary>
public sealed class UnresponsiveOwners(TimeProvider time)
{
    public static readonly TimeSpan HoldFor = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<SiloAddress, long> _until = new();

    public UnresponsiveOwners() : this(TimeProvider.System) { }

    /// <summary>No node is held: callers need not even work out which node owns their key.</summary>
    public bool IsEmpty => _until.IsEmpty;

    /// <summary>True: bypass without asking. False: ask (the node is fine, or this caller is the one that probes).</summary>
    public bool ShouldSkip(SiloAddress owner)
    {
        if (_until.IsEmpty || !_until.TryGetValue(owner, out var until)) return false;
        var now = time.GetTimestamp();
        if (now < until) return true;
        // Held long enough: this caller asks again; the others keep bypassing until it knows.
        return !_until.TryUpdate(owner, now + Ticks(HoldFor), until);
    }

    public void Failed(SiloAddress owner) => _until[owner] = time.GetTimestamp() + Ticks(HoldFor);

    public void Answered(SiloAddress owner)
    {
        if (!_until.IsEmpty) _until.TryRemove(owner, out _);
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * time.TimestampFrequency);
}
