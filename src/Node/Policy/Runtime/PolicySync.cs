using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management;

namespace CacheCluster.Node.Policy.Runtime;

/// <summary>
/// A node that joins after the runtime policy was changed takes the newest policy from the other nodes once it
/// is an active member, so every node applies the same rules. (Configuration is where lasting rules belong.)
/// </summary>
public sealed class PolicySync(RuntimePolicy policy, Readiness readiness, ClusterNodes cluster, IHostApplicationLifetime lifetime,
    NodeSettings settings, ILogger<PolicySync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
                await started.Task.WaitAsync(stoppingToken);
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (readiness.NotReadyReason() is not null && DateTime.UtcNow < deadline) await Task.Delay(500, stoppingToken);
            var answers = await cluster.AskAllAsync(g => g.GetPolicyAsync(), stoppingToken);
            var newest = answers.Where(a => a.Name != settings.NodeName && a.Value is not null).Select(a => a.Value!).MaxBy(p => p.Version);
            if (newest is not null && await policy.AdoptAsync(newest))
                logger.LogInformation("Runtime policy version {Version} taken over from the cluster ({Rules} refresh rule(s))", newest.Version, newest.RefreshRules.Length);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        catch (Exception ex)
        {
            logger.LogWarning("Could not take the runtime policy over from the cluster ({Message}); using this node's configuration", ex.Message);
        }
    }
}
