using System.Diagnostics;
using CacheCluster.Grains.Storage;

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
        Assert.True(stats.Checkpoints > 0);

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

        using var stop = new CancellationTokenSource();
        long hotReads = 0;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                for (int i = 0; i < hot; i++)
                {
                    Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(i), sizes));
                    hotReads++;
                }

                await Task.Delay(1);
            }
        });

        long generation = store.NewGeneration();
        long chunks = 3 * Budget / EntryStore.MaxChunkBytes;
        await Parallel.ForAsync(0L, chunks, new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (i, _) =>
        {
            var key = Data.Key(1_000_000 + (int)i);
            await store.WriteChunkAsync(key, generation, 0, Data.Chunk(key, generation, 0, EntryStore.MaxChunkBytes));
        });
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
