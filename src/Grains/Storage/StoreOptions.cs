namespace CacheCluster.Grains.Storage;

/// <summary>
/// Settings of the node's <see cref="EntryStore"/>. Validated by the <see cref="EntryStore"/> constructor.
/// </summary>
public sealed class StoreOptions
{
    /// <summary>Folder for log segments and checkpoints; created if missing. The store owns the sub-folders
    /// <c>log</c> and <c>checkpoints</c> and deletes their contents when it has to start fresh.</summary>
    public required string Directory { get; init; }

    /// <summary>In-memory size of the FASTER hybrid log. Rounded down to a power of two; at least 4 MiB
    /// (4 pages of 1 MiB). Capped at half the log allowance the disk budget leaves (the store logs when it caps).</summary>
    public long MemoryBudgetBytes { get; init; } = 64L << 20;

    /// <summary>Hard cap on the bytes of all files under <see cref="Directory"/> (log segments, checkpoints,
    /// index). At least <see cref="EntryStore.MinDiskBudgetBytes"/> (16 MiB).</summary>
    public long DiskBudgetBytes { get; init; } = 1L << 30;

    /// <summary>Period of the background fold-over checkpoint. Zero or negative disables the timer (and the
    /// extra checkpoints the store takes after heavy writing); explicit <see cref="EntryStore.CheckpointAsync"/>
    /// and the final checkpoint on dispose still happen.</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest a checkpoint may take (calls are held meanwhile). One that takes longer, or during which
    /// a write fails, marks the store failing (it then refuses calls until a disk test succeeds) and is discarded;
    /// the previous checkpoint stays. Also bounds the final checkpoint at shutdown.</summary>
    public TimeSpan CheckpointTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
