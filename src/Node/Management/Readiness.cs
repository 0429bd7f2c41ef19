using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CacheCluster.Node.Management;

/// <summary>Ready = this node's silo is an active member of the cluster and its store is open (recovered) and not failing.</summary>
public sealed class Readiness(IClusterMembershipService membership, ILocalSiloDetails silo, EntryStore store, IHostApplicationLifetime lifetime)
{
    /// <summary>Null when ready; else why not, in a sentence.</summary>
    public string? NotReadyReason()
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested) return "the node is shutting down";
        if (!store.IsOpen) return "the store is not open yet (recovering or closing)";
        if (store.FaultReason is { } fault) return $"the store is failing ({fault}); requests bypass the cache until it recovers";
        var me = membership.CurrentSnapshot.Members.TryGetValue(silo.SiloAddress, out var m) ? m.Status : SiloStatus.None;
        return me == SiloStatus.Active ? null : $"the silo has not joined the cluster (membership status: {me})";
    }
}

/// <summary>The same readiness for grpc.health.v1 (service "").</summary>
public sealed class ReadinessCheck(Readiness readiness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.NotReadyReason() is { } reason ? HealthCheckResult.Unhealthy(reason) : HealthCheckResult.Healthy());
}
