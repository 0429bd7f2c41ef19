using System.Net.Sockets;
using CacheCluster.Contracts.Storage;
using Orleans.Runtime;

namespace CacheCluster.Node.ClusterClient;

/// <summary>
/// Calls to an entry's owner can fail while a node dies (until membership declares it dead, about a second
/// with fast probes): such calls are retried once after a short pause, by which time the key usually has a
/// new owner. Only failures of the cluster itself count; the grain's own errors are not retried. An owner
/// whose store is failing answers at once with <see cref="StoreUnavailableException"/>: bypassed, never retried.
/// </summary>
public static class OwnerCalls
{
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    // Orleans gives up on a call whose owner cannot be placed in time (a partition, a node being declared dead) with
    // an OperationCanceledException of no token ("Message expired before placement could complete"); a cancellation
    // we asked for carries its cancelled token and is not a cluster failure.
    public static bool IsTransient(Exception ex) =>
        ex is StoreUnavailableException or TimeoutException or SiloUnavailableException or OrleansMessageRejectionException
           or OrleansException { InnerException: SocketException or TimeoutException }
           or OperationCanceledException { CancellationToken.IsCancellationRequested: false };

    public static async Task<T> RetryOnceAsync<T>(Func<Task<T>> call, ILogger logger, string what)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (IsTransient(ex) && ex is not StoreUnavailableException)
        {
            logger.LogInformation("{What} failed ({Error}); retrying once", what, ex.GetType().Name);
            await Task.Delay(RetryPause);
            return await call();
        }
    }
}
