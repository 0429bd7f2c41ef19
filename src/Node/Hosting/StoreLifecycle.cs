using CacheCluster.Grains.Storage;
using Orleans.Runtime;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// Opens the node's entry store before the silo accepts grain calls and closes it (with a final
/// checkpoint) after the silo's grains have stopped, so no grain ever sees a closed store.
/// </summary>
public sealed class StoreLifecycle(EntryStore store, ILogger<StoreLifecycle> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StoreLifecycle), ServiceLifecycleStage.RuntimeInitialize, OpenAsync, CloseAsync);

    private Task OpenAsync(CancellationToken ct) => store.OpenAsync(ct);

    private async Task CloseAsync(CancellationToken ct)
    {
        logger.LogInformation("Checkpointing the entry store before shutdown");
        // The final checkpoint is bounded by Store:CheckpointTimeout; the host's shutdown timeout bounds the rest
        // (a hung disk must not keep the process past its grace period: the last good checkpoint stays on disk).
        try
        {
            await store.DisposeAsync().AsTask().WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            logger.LogWarning("The entry store did not close before the shutdown timeout; the next start recovers its last good checkpoint");
        }
    }
}
