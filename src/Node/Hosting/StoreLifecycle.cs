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
        await store.DisposeAsync();
    }
}
