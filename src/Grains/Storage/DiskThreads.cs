using System.Collections.Concurrent;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// Dedicated threads for the store's blocking disk calls. On Linux .NET has no asynchronous file I/O: an "async"
/// read, write or fsync blocks a thread-pool thread for as long as the disk takes. When the disk is busy (another
/// process writing, a slow fsync) that took most of the pool's threads on a 2-core node and stalled every request
/// and grain call for seconds. Here a slow disk only slows the store's own reads and writes.
/// </summary>
internal sealed class DiskThreads : IDisposable
{
    /// <summary>Shared by every store in the process (tests open several).</summary>
    public static DiskThreads Shared { get; } = new(readers: 4, writers: 2);

    private readonly BlockingCollection<Action> _reads = new(new ConcurrentQueue<Action>());
    private readonly BlockingCollection<Action> _writes = new(new ConcurrentQueue<Action>());

    private DiskThreads(int readers, int writers)
    {
        // Reads and writes apart: a read (a hit waiting) never queues behind a page flush and its fsync.
        for (int i = 0; i < readers; i++) Start(_reads, $"store-disk-read-{i}");
        for (int i = 0; i < writers; i++) Start(_writes, $"store-disk-write-{i}");
    }

    public void Read(Action work) => _reads.Add(work);

    public void Write(Action work) => _writes.Add(work);

    private static void Start(BlockingCollection<Action> queue, string name) =>
        new Thread(() => Run(queue)) { IsBackground = true, Name = name }.Start();

    private static void Run(BlockingCollection<Action> queue)
    {
        foreach (var work in queue.GetConsumingEnumerable())
        {
            try
            {
                work();
            }
            catch (Exception)
            {
                // Each work item reports its own errors to its caller; nothing may end this thread.
            }
        }
    }

    public void Dispose()
    {
        _reads.CompleteAdding();
        _writes.CompleteAdding();
    }
}
