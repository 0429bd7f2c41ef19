using System.Diagnostics;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Store.Tests;

public sealed class DiskBudgetTests(ITestOutputHelper output) : IDisposable
{
    private const long Budget = 32L << 20;
    private const long Memory = 8L << 20;
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<EntryStore> _logger = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Files_never_exceed_the_budget_while_writing_three_times_the_budget()
    {
        // Checkpoints every 200 ms run concurrently with eviction and count against the budget too.
        await using var store = await Data.OpenAsync(_dir.Path, _logger, Budget, Memory, TimeSpan.FromMilliseconds(200));
        using var sampler = new DiskSampler(_dir.Path);

        // Writers take global sequence numbers, so "oldest" and "newest" below follow the log order.
        const int writers = 4;
        long total = 3 * Budget / EntryStore.MaxChunkBytes + 1;
        long sequence = -1;
        long generation = store.NewGeneration();
        var stopwatch = Stopwatch.StartNew();
        var tasks = new Task[writers];
        for (int w = 0; w < writers; w++)
        {
            tasks[w] = Task.Run(async () =>
            {
                long seq;
                while ((seq = Interlocked.Increment(ref sequence)) < total)
                {
                    var key = Data.Key((int)seq);
                    await store.WriteChunkAsync(key, generation, 0, Data.Chunk(key, generation, 0, EntryStore.MaxChunkBytes));
                }
            });
        }

        await Task.WhenAll(tasks);
        stopwatch.Stop();
        var stats = store.GetStats();
        long written = total * EntryStore.MaxChunkBytes;
        output.WriteLine($"wrote {written >> 20} MiB in {stopwatch.ElapsedMilliseconds} ms ({written / 1048576.0 / stopwatch.Elapsed.TotalSeconds:F0} MiB/s); " +
            $"max on disk {sampler.Max / 1048576.0:F2} MiB of {Budget >> 20} MiB over {sampler.Samples} samples; {stats}");

        Assert.True(sampler.Max <= Budget, $"max sampled {sampler.Max} > budget {Budget}");
        Assert.True(Data.DirectorySize(_dir.Path) <= Budget);
        Assert.True(stats.Evictions > 0);
        Assert.True(stats.EvictedBytes >= Budget);
        Assert.True(stats.DiskBytes <= Budget);
        // Eviction asked for a checkpoint on its own; its commit (a sync, then the metadata) may still be running.
        var commitDeadline = Stopwatch.StartNew();
        while (store.GetStats().Checkpoints == 0 && commitDeadline.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20);
        Assert.True(store.GetStats().Checkpoints > 0);

        for (int i = 0; i < 100; i++)
            Assert.Null(await store.ReadChunkAsync(Data.Key(i), generation, 0));
        for (long i = total - 160; i < total; i++) // the newest 10 MiB
        {
            var key = Data.Key((int)i);
            Assert.Equal(Data.Chunk(key, generation, 0, EntryStore.MaxChunkBytes), await store.ReadChunkAsync(key, generation, 0));
        }

        await store.DisposeAsync();
        Assert.True(Data.DirectorySize(_dir.Path) <= Budget);
        Assert.True(sampler.Max <= Budget, $"max sampled {sampler.Max} > budget {Budget}");
    }

    [Fact]
    public async Task Hot_entries_survive_while_three_budgets_of_other_data_flow_through()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger, Budget, Memory);
        using var sampler = new DiskSampler(_dir.Path);
        int[] sizes = [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 3000];
        const int hot = 16;
        for (int i = 0; i < hot; i++)
            await Data.WriteEntryAsync(store, Data.Key(i), store.NewGeneration(), sizes);

        // A reader loops over the hot entries while two writers push 3x the budget of cold chunks through.
        // Writers wait while more than 4 MiB were written since the start of the reader's last complete pass,
        // so every hot record is read at least once per ~4 MiB written, however the threads are scheduled
        // (eviction keeps the newest ~23 MiB of this 32 MiB budget; the store copies entries used since they were
        // last written forward, whole, before their turn to be evicted).
        using var stop = new CancellationTokenSource();
        long hotReads = 0, written = 0, lastPassStart = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long passStart = Interlocked.Read(ref written);
                for (int i = 0; i < hot; i++)
                {
                    var seen = await Data.CheckEntryAsync(store, Data.Key(i), sizes);
                    if (seen != Data.EntryState.Intact) output.WriteLine($"hot entry {i} read back {seen}; store: {store.GetStats()}");
                    Assert.Equal(Data.EntryState.Intact, seen);
                    store.NoteHit(Data.Key(i)); // what the owner grain does on a hit
                    hotReads++;
                }

                Interlocked.Exchange(ref lastPassStart, passStart);
            }
        });

        long generation = store.NewGeneration();
        long chunks = 3 * Budget / EntryStore.MaxChunkBytes;
        long next = -1;
        var writers = new Task[2];
        for (int w = 0; w < writers.Length; w++)
        {
            writers[w] = Task.Run(async () =>
            {
                long i;
                while ((i = Interlocked.Increment(ref next)) < chunks && !reader.IsCompleted)
                {
                    while (Interlocked.Read(ref written) > Interlocked.Read(ref lastPassStart) + (4L << 20) && !reader.IsCompleted)
                        await Task.Delay(1);
                    var key = Data.Key(1_000_000 + (int)i);
                    await store.WriteChunkAsync(key, generation, 0, Data.Chunk(key, generation, 0, EntryStore.MaxChunkBytes));
                    Interlocked.Add(ref written, EntryStore.MaxChunkBytes);
                }
            });
        }

        await Task.WhenAll(writers);
        await stop.CancelAsync();
        await reader;

        var stats = store.GetStats();
        output.WriteLine($"{hotReads} hot entry reads; max on disk {sampler.Max / 1048576.0:F2} MiB; {stats}");
        Assert.True(stats.EvictedBytes > 2 * Budget);
        Assert.True(sampler.Max <= Budget);
        for (int i = 0; i < hot; i++)
            Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(i), sizes));
        Assert.Null(await store.ReadChunkAsync(Data.Key(1_000_000), generation, 0));
    }

    [Fact]
    public async Task The_store_empties_itself_before_the_log_address_space_runs_out()
    {
        // The real limit is ~250 TiB of log addresses; lowered here to 48 MiB.
        var store = new EntryStore(new StoreOptions { Directory = _dir.Path, DiskBudgetBytes = Budget, MemoryBudgetBytes = Memory, CheckpointInterval = TimeSpan.Zero }, _logger)
        {
            LogAddressLimit = 48L << 20,
        };
        await store.OpenAsync();
        long generation = store.NewGeneration();
        var chunk = new byte[EntryStore.MaxChunkBytes];
        for (int i = 0; i < 1024 && !_logger.Has(LogLevel.Warning, "emptied"); i++)
            await store.WriteChunkAsync(Data.Key(i), generation, 0, chunk);

        // The reset runs in the background (like a checkpoint: calls wait while it runs).
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!_logger.Has(LogLevel.Warning, "emptied") && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Assert.True(_logger.Has(LogLevel.Warning, "emptied"));
        Assert.True(store.GetStats().TailAddress < 48L << 20);
        Assert.Null(await store.ReadChunkAsync(Data.Key(0), generation, 0));
        Assert.True(Data.DirectorySize(_dir.Path) <= Budget);

        var key = Data.Key(5000);
        await Data.WriteEntryAsync(store, key, store.NewGeneration(), [1000, 2000]);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, key, [1000, 2000]));
        await store.DisposeAsync();

        await using var reopened = await Data.OpenAsync(_dir.Path, _logger, Budget, Memory);
        Assert.True(reopened.Recovered);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(reopened, key, [1000, 2000]));
    }

    /// <summary>Sums the sizes of all files under a folder in a loop on its own thread.</summary>
    private sealed class DiskSampler : IDisposable
    {
        private readonly string _path;
        private readonly Thread _thread;
        private volatile bool _stop;
        private long _max;

        public DiskSampler(string path)
        {
            _path = path;
            _thread = new Thread(Run) { IsBackground = true, Name = "disk sampler" };
            _thread.Start();
        }

        public long Max => Interlocked.Read(ref _max);

        public long Samples { get; private set; }

        private void Run()
        {
            while (!_stop)
            {
                long size = Data.DirectorySize(_path);
                if (size > _max)
                    Interlocked.Exchange(ref _max, size);
                Samples++;
                Thread.Sleep(1);
            }
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
