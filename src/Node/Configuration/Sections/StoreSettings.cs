namespace CacheCluster.Node.Configuration;

/// <summary>Store:* — the node's FASTER store: where, how much memory and disk, how often checkpointed.</summary>
public sealed class StoreSettings
{
    internal static readonly string[] Keys = ["Directory", "MemoryBudget", "DiskBudget", "CheckpointInterval", "CheckpointTimeout"];

    public required string Directory { get; init; }
    public required long MemoryBudgetBytes { get; init; }
    public required long DiskBudgetBytes { get; init; }
    public required TimeSpan CheckpointInterval { get; init; }
    /// <summary>Longest a checkpoint may take; a slower or failed one marks the store failing (and bounds shutdown).</summary>
    public TimeSpan CheckpointTimeout { get; init; } = TimeSpan.FromSeconds(15);

    internal static StoreSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Store", Keys);
        return new StoreSettings
        {
            Directory = r.FullPath(r.String("Store:Directory", "data")),
            MemoryBudgetBytes = r.Size("Store:MemoryBudget", 64L << 20, min: 4L << 20),
            DiskBudgetBytes = r.Size("Store:DiskBudget", 1L << 30, min: 16L << 20),
            CheckpointInterval = r.Duration("Store:CheckpointInterval", TimeSpan.FromSeconds(30), allowZero: true),
            CheckpointTimeout = r.Duration("Store:CheckpointTimeout", TimeSpan.FromSeconds(15)),
        };
    }
}
