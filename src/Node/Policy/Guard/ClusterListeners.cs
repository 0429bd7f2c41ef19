using System.Collections.Concurrent;
using System.Net;
using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Policy.Guard;

/// <summary>
/// The ports the other nodes of the cluster listen on (silo, gateway, proxy, management), so the proxy refuses
/// them like its own: a client must not reach another node's management API or silo through this one. The silo
/// port comes with membership; the rest each node tells about itself (<see cref="IManagementNodeGrain.GetListenerPortsAsync"/>),
/// asked once per member as it becomes active.
/// </summary>
public sealed class ClusterListeners(IServiceProvider services, ILogger<ClusterListeners> logger) : BackgroundService
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RetryEvery = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SoonRetry = TimeSpan.FromSeconds(1);

    /// <summary>Per member (silo address text): its advertised address and the ports known so far.</summary>
    private readonly ConcurrentDictionary<string, (IPAddress Address, string Name, int[] Ports, bool Complete)> _members = new();

    private long _version;

    /// <summary>Grows whenever a node's ports become known: connections pooled before may lead to one of them.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>The cluster node listening on <paramref name="address"/>:<paramref name="port"/>, or null when none is known to.</summary>
    public string? NodeAt(IPAddress address, int port, Func<IPAddress, bool> isLocal)
    {
        foreach (var m in _members.Values)
        {
            if (Array.IndexOf(m.Ports, port) < 0) continue;
            // A node on loopback (a cluster on one machine) is reached by any loopback address; one on this host's
            // own address by loopback too.
            if (m.Address.Equals(address) || (isLocal(m.Address) && isLocal(address))) return m.Name;
        }
        return null;
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var membership = services.GetService<IClusterMembershipService>();
        var grains = services.GetService<IGrainFactory>();
        var self = services.GetService<ILocalSiloDetails>();
        if (membership is null || grains is null || self is null) return;
        try
        {
            var retry = Task.Delay(RetryEvery, stopping);
            var updates = membership.MembershipUpdates.GetAsyncEnumerator(stopping);
            var next = updates.MoveNextAsync().AsTask();
            while (!stopping.IsCancellationRequested)
            {
                var done = await Task.WhenAny(next, retry);
                if (done != retry)
                {
                    if (!await next) break;
                    next = updates.MoveNextAsync().AsTask();
                }
                await RefreshAsync(membership.CurrentSnapshot, self.SiloAddress, grains, stopping);
                // A node that has not answered yet (still starting) is asked again soon, not in 30 s.
                retry = Task.Delay(_members.Values.All(v => v.Complete) ? RetryEvery : SoonRetry, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
    }

    private async Task RefreshAsync(ClusterMembershipSnapshot snapshot, SiloAddress self, IGrainFactory grains, CancellationToken ct)
    {
        var active = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(self)).ToList();
        var keys = active.Select(m => m.SiloAddress.ToParsableString()).ToHashSet();
        foreach (var key in _members.Keys) if (!keys.Contains(key)) _members.TryRemove(key, out _);
        var asks = new List<Task>();
        foreach (var m in active)
        {
            var key = m.SiloAddress.ToParsableString();
            if (_members.TryGetValue(key, out var known) && known.Complete) continue;
            // Known at once: the silo port. The others once the node answers.
            _members[key] = (m.SiloAddress.Endpoint.Address, m.Name, known.Ports ?? [m.SiloAddress.Endpoint.Port], false);
            asks.Add(AskAsync(key, m, grains, ct));
        }
        await Task.WhenAll(asks);
    }

    private async Task AskAsync(string key, ClusterMember m, IGrainFactory grains, CancellationToken ct)
    {
        try
        {
            var ports = await grains.GetGrain<IManagementNodeGrain>(key).GetListenerPortsAsync().WaitAsync(AskTimeout, ct);
            if (ports.Length == 0) return; // still starting (listeners not bound yet): asked again within SoonRetry
            _members[key] = (m.SiloAddress.Endpoint.Address, m.Name, [.. ports.Append(m.SiloAddress.Endpoint.Port).Distinct()], true);
            Interlocked.Increment(ref _version);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // Asked again on the next membership change or within RetryEvery; its silo port is refused meanwhile.
            logger.LogDebug("Could not learn the listener ports of node {Node} yet: {Error}", m.Name, ex.Message);
        }
    }
}
