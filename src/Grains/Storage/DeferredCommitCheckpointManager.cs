using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// FASTER's checkpoint manager with the commits moved out of FASTER: a checkpoint's metadata (the index's, and the
/// log's "every page up to here is on disk") is kept when FASTER hands it over and written by <see cref="CommitPendingAsync"/>, on a thread of
/// its own, after the log device's segments are synced (<see cref="FileDevice.Sync"/>). FASTER calls the commit inside
/// its epoch from whichever pool thread drives the checkpoint; an fdatasync there (up to a second or two on a busy disk)
/// held that thread and every thread spinning on the epoch behind it: the node's thread pool stalled for as long.
/// Until the commit is written the previous checkpoint stays the one recovery uses.
/// </summary>
internal sealed class DeferredCommitCheckpointManager(ICheckpointManager inner, Action sync) : ICheckpointManager
{
    private readonly object _lock = new();
    private readonly List<(Guid Token, Action Commit)> _pending = [];

    public void CommitLogCheckpoint(Guid logToken, byte[] commitMetadata) =>
        Defer(logToken, () => inner.CommitLogCheckpoint(logToken, commitMetadata));

    public void CommitLogIncrementalCheckpoint(Guid logToken, long version, byte[] commitMetadata, DeltaLog deltaLog) =>
        Defer(logToken, () => inner.CommitLogIncrementalCheckpoint(logToken, version, commitMetadata, deltaLog));

    // The index commit too: FASTER writes it from a state-machine step that any operation's thread may run (a read's
    // pool thread, seen in a stack of a stalled node), and FASTER's checkpoint device then waits for a write whose
    // completion needs another pool thread.
    public void CommitIndexCheckpoint(Guid indexToken, byte[] commitMetadata) =>
        Defer(indexToken, () => inner.CommitIndexCheckpoint(indexToken, commitMetadata));

    private void Defer(Guid token, Action commit)
    {
        lock (_lock) _pending.Add((token, commit));
    }

    /// <summary>Syncs the log and writes the commits FASTER handed over, in order; failures are the caller's (the checkpoint failed).</summary>
    public Task CommitPendingAsync()
    {
        List<(Guid Token, Action Commit)> pending;
        lock (_lock)
        {
            if (_pending.Count == 0) return Task.CompletedTask;
            pending = [.. _pending];
            _pending.Clear();
        }
        return Task.Factory.StartNew(() =>
        {
            sync();
            foreach (var (_, commit) in pending) commit();
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public void Purge(Guid token)
    {
        lock (_lock) _pending.RemoveAll(p => p.Token == token);
        inner.Purge(token);
    }

    public void PurgeAll()
    {
        lock (_lock) _pending.Clear();
        inner.PurgeAll();
    }

    public void CheckpointVersionShift(long oldVersion, long newVersion) => inner.CheckpointVersionShift(oldVersion, newVersion);
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
    public void Dispose() => inner.Dispose();
}
