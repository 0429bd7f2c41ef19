namespace CacheCluster.Grains.Protocol.HotCopies;

/// <summary>
/// The owner's list of nodes holding a hot copy (<see cref="HotEntries"/>) of its current head. A lookup that
/// takes a copy registers its node; whenever the head changes (commit, refresh, Vary marker, drop, invalidation,
/// the activation going away) the owner takes the whole list and tells each node to drop its copy. Lives in one
/// grain activation, so it is only touched from that activation's turns.
/// </summary>
public sealed class HotCopyRegistry
{
    private HashSet<string>? _nodes;

    public int Count => _nodes?.Count ?? 0;

    /// <summary>Records that <paramref name="node"/> (an INodeGrain key) holds a copy of the current head.</summary>
    public void Register(string node) => (_nodes ??= new HashSet<string>(StringComparer.Ordinal)).Add(node);

    /// <summary>Every registered node, forgetting them: the caller tells each to drop its copy.</summary>
    public IReadOnlyCollection<string> TakeAll()
    {
        var nodes = _nodes;
        _nodes = null;
        return nodes is null ? [] : nodes;
    }
}
