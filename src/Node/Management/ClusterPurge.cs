using CacheCluster.Contracts.Management;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Management;

/// <summary>How many entries one node removed, or why it did not answer.</summary>
public readonly record struct NodePurgeCount(string Node, long Purged, string? Error);

/// <summary>What a purge removed cluster-wide, with each node's part.</summary>
public sealed record PurgeResult(long Purged, IReadOnlyList<NodePurgeCount> Nodes);

/// <summary>
/// Purging, cluster-wide: one URL through its owner grain, or a host / prefix / surrogate key by walking every
/// node's store. Shared by the management API (gRPC Purge) and HTTP PURGE on the proxy port, so both remove
/// exactly the same entries.
/// </summary>
public sealed class ClusterPurge(NodeSettings settings, ClusterNodes cluster, EntryOwners owners, ILogger<ClusterPurge> logger)
{
    /// <summary>One URL (by its cache key) and all its variants.</summary>
    public async Task<PurgeResult> UrlAsync(string key, CancellationToken ct)
    {
        // The owner grain removes the entry (and its variants); hot copies everywhere are dropped by the owner.
        int removed = await owners.For(key).InvalidateAsync();
        // The owner waits for the nodes it knows hold hot copies; a copy registered with an earlier activation
        // of the owner is not among them, so every node is asked too before answering.
        var drops = await cluster.AskAllAsync(g => g.DropHotAsync(new PurgeMatch(PurgeKind.Url, key)), ct);
        logger.LogInformation("Purge url {Key}: {Result}", key, removed > 0 ? $"{removed} entr(ies) removed" : "not cached");
        return new PurgeResult(removed, [.. drops.Select(d => new NodePurgeCount(d.Name, d.Name == settings.NodeName ? removed : 0, d.Error))]);
    }

    /// <summary>Every stored entry the match names (host, prefix, surrogate key), on every node.</summary>
    public async Task<PurgeResult> MatchAsync(PurgeMatch match, CancellationToken ct)
    {
        var answers = await cluster.AskAllAsync(g => g.PurgeAsync(match), ct, timeout: ClusterNodes.ScanTimeout);
        var nodes = answers.Select(a => new NodePurgeCount(a.Name, a.Value, a.Error)).ToList();
        long purged = nodes.Sum(n => n.Purged);
        logger.LogInformation("Purge {Kind} '{Value}': {Count} entr(ies) removed cluster-wide", match.Kind, match.Value, purged);
        return new PurgeResult(purged, nodes);
    }
}
