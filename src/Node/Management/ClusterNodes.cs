using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Management;

/// <summary>Asks every active node (its <see cref="IManagementNodeGrain"/>) the same thing, in parallel, with a timeout each.</summary>
public sealed class ClusterNodes(IClusterMembershipService membership, IGrainFactory grains)
{
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Calls that walk a node's whole store (purge by host / prefix / tag, inspect).</summary>
    public static readonly TimeSpan ScanTimeout = TimeSpan.FromMinutes(30);

    public sealed record Answer<T>(string Name, string Address, T? Value, string? Error);

    public IReadOnlyList<(string Name, SiloAddress Address)> Active() =>
        [.. membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .OrderBy(m => m.Name, StringComparer.Ordinal)
            .Select(m => (m.Name, m.SiloAddress))];

    public IManagementNodeGrain Grain(SiloAddress silo) => grains.GetGrain<IManagementNodeGrain>(silo.ToParsableString());

    public async Task<List<Answer<T>>> AskAllAsync<T>(Func<IManagementNodeGrain, Task<T>> call, CancellationToken ct, string? onlyNode = null, TimeSpan? timeout = null)
    {
        var limit = timeout ?? CallTimeout;
        var nodes = Active().Where(n => onlyNode is null || n.Name == onlyNode).ToList();
        var tasks = nodes.Select(async n =>
        {
            try { return new Answer<T>(n.Name, n.Address.ToParsableString(), await call(Grain(n.Address)).WaitAsync(limit, ct), null); }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                return new Answer<T>(n.Name, n.Address.ToParsableString(), default, ex is TimeoutException ? $"no answer within {limit.TotalSeconds:0} s" : ex.Message);
            }
        });
        return [.. await Task.WhenAll(tasks)];
    }
}
