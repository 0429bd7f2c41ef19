using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// FASTER's checkpoint manager, with one step added: before a log checkpoint's metadata is committed (which says
/// "every page up to here is on disk"), the log device's written segments are synced (<see cref="FileDevice.Sync"/>).
/// Page writes themselves do not sync: one fdatasync per segment per checkpoint instead of one per 1 MiB page.
/// </summary>
internal sealed class SyncingCheckpointManager(ICheckpointManager inner, Action beforeLogCommit) : ICheckpointManager
{
    public void CommitLogCheckpoint(Guid logToken, byte[] commitMetadata)
    {
        beforeLogCommit();
        inner.CommitLogCheckpoint(logToken, commitMetadata);
    }

    public void CommitLogIncrementalCheckpoint(Guid logToken, long version, byte[] commitMetadata, DeltaLog deltaLog)
    {
        beforeLogCommit();
        inner.CommitLogIncrementalCheckpoint(logToken, version, commitMetadata, deltaLog);
    }

    public void CheckpointVersionShift(long oldVersion, long newVersion) => inner.CheckpointVersionShift(oldVersion, newVersion);
    public void CommitIndexCheckpoint(Guid indexToken, byte[] commitMetadata) => inner.CommitIndexCheckpoint(indexToken, commitMetadata);
    public IDevice GetDeltaLogDevice(Guid token) => inner.GetDeltaLogDevice(token);
    public byte[] GetIndexCheckpointMetadata(Guid indexToken) => inner.GetIndexCheckpointMetadata(indexToken);
    public IEnumerable<Guid> GetIndexCheckpointTokens() => inner.GetIndexCheckpointTokens();
    public IDevice GetIndexDevice(Guid indexToken) => inner.GetIndexDevice(indexToken);
    public byte[] GetLogCheckpointMetadata(Guid logToken, DeltaLog deltaLog, bool scanDelta, long recoverTo) =>
        inner.GetLogCheckpointMetadata(logToken, deltaLog, scanDelta, recoverTo);
    public IEnumerable<Guid> GetLogCheckpointTokens() => inner.GetLogCheckpointTokens();
    public IDevice GetSnapshotLogDevice(Guid token) => inner.GetSnapshotLogDevice(token);
    public IDevice GetSnapshotObjectLogDevice(Guid token) => inner.GetSnapshotObjectLogDevice(token);
    public void InitializeIndexCheckpoint(Guid indexToken) => inner.InitializeIndexCheckpoint(indexToken);
    public void InitializeLogCheckpoint(Guid logToken) => inner.InitializeLogCheckpoint(logToken);
    public void OnRecovery(Guid indexToken, Guid logToken) => inner.OnRecovery(indexToken, logToken);
    public void Purge(Guid token) => inner.Purge(token);
    public void PurgeAll() => inner.PurgeAll();
    public void Dispose() => inner.Dispose();
}
