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
    long DiskBytes);
