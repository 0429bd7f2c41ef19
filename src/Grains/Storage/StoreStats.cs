namespace CacheCluster.Grains.Storage;

/// <summary>A snapshot of the store's counters.</summary>
/// <param name="LogBytes">Live log bytes: <paramref name="TailAddress"/> - <paramref name="BeginAddress"/>.</param>
/// <param name="BeginAddress">Oldest readable log address; everything below was evicted (FIFO).</param>
/// <param name="TailAddress">Next log address to be written.</param>
/// <param name="EvictedBytes">Log bytes evicted by the disk budget since this process opened the store.</param>
/// <param name="Evictions">Number of times the log was truncated by the disk budget since open.</param>
/// <param name="Checkpoints">Checkpoints completed since open.</param>
/// <param name="LastCheckpoint">Completion time of the last checkpoint taken by this process.</param>
/// <param name="DiskBytes">Sum of the sizes of all files under the store directory, measured now.</param>
public readonly record struct StoreStats(
    long LogBytes,
    long BeginAddress,
    long TailAddress,
    long EvictedBytes,
    long Evictions,
    long Checkpoints,
    DateTimeOffset? LastCheckpoint,
    long DiskBytes)
{
    /// <summary>Whole entries in the store (header records whose every record is still in the log).</summary>
    public long Entries { get; init; }

    /// <summary>Body bytes of those entries.</summary>
    public long BodyBytes { get; init; }

    /// <summary>Entries evicted by the disk budget since open (unused when their turn came).</summary>
    public long EvictedEntries { get; init; }

    /// <summary>Body and header bytes of the evicted entries.</summary>
    public long EvictedEntryBytes { get; init; }

    /// <summary>Entries kept by copying them forward whole (used since last written, or being read) since open.</summary>
    public long MovedEntries { get; init; }

    /// <summary>Bytes of those copies (the eviction policy's extra writes).</summary>
    public long MovedBytes { get; init; }

    /// <summary>Copies that found a chunk already gone (the entry was evicted instead).</summary>
    public long MovesFailed { get; init; }

    /// <summary>Writes that had to wait for room (a checkpoint starting, or eviction waiting for the reinserter).</summary>
    public long WriteWaits { get; init; }

    /// <summary>Cuts that went ahead before the reinserter had decided about every entry below them (it fell
    /// behind for longer than writers may wait): entries worth keeping may have been evicted.</summary>
    public long ForcedCuts { get; init; }

    /// <summary>Milliseconds those writes waited, in all.</summary>
    public long WriteWaitMs { get; init; }
}
