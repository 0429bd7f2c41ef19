using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace CacheCluster.Store.Tests;

public sealed class EntryStoreTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<EntryStore> _logger = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Header_and_chunks_round_trip_byte_identical()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger);
        var key = Data.Key(1);
        long generation = store.NewGeneration();
        int[] sizes = [EntryStore.MaxChunkBytes, 1, 0, 12345];
        await Data.WriteEntryAsync(store, key, generation, sizes);

        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, key, sizes));
        var empty = await store.ReadChunkAsync(key, generation, 2);
        Assert.NotNull(empty);
        Assert.Empty(empty);

        // A header can be replaced, also by one of a different size.
        var bigger = Data.Chunk(key, 7, 7, 60_000);
        await store.WriteHeaderAsync(key, bigger);
        Assert.Equal(bigger, await store.ReadHeaderAsync(key));
        var smaller = Data.Chunk(key, 8, 8, 10);
        await store.WriteHeaderAsync(key, smaller);
        Assert.Equal(smaller, await store.ReadHeaderAsync(key));

        // Every read returns a fresh array the caller may keep.
        var a = await store.ReadHeaderAsync(key);
        var b = await store.ReadHeaderAsync(key);
        Assert.NotSame(a, b);
    }

    [Fact]
    public async Task Missing_keys_read_null_and_deleted_headers_read_null()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger);
        var key = Data.Key(2);
        long generation = store.NewGeneration();
        Assert.Null(await store.ReadHeaderAsync(key));
        Assert.Null(await store.ReadChunkAsync(key, generation, 0));

        await Data.WriteEntryAsync(store, key, generation, [100]);
        Assert.Null(await store.ReadChunkAsync(key, generation, 1));
        Assert.Null(await store.ReadChunkAsync(key, generation + 1, 0));
        Assert.Null(await store.ReadHeaderAsync(Data.Key(3)));

        await store.DeleteHeaderAsync(key);
        Assert.Null(await store.ReadHeaderAsync(key));
        await store.DeleteHeaderAsync(Data.Key(4)); // deleting a missing header is fine

        // Survives a checkpoint and reopen as deleted.
        await store.DisposeAsync();
        await using var reopened = await Data.OpenAsync(_dir.Path, _logger);
        Assert.True(reopened.Recovered);
        Assert.Null(await reopened.ReadHeaderAsync(key));
        Assert.NotNull(await reopened.ReadChunkAsync(key, generation, 0));
    }

    [Fact]
    public async Task Oversized_records_and_bad_keys_are_rejected()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger);
        var key = Data.Key(5);
        long generation = store.NewGeneration();
        await store.WriteChunkAsync(key, generation, 0, new byte[EntryStore.MaxChunkBytes]);
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteChunkAsync(key, generation, 1, new byte[EntryStore.MaxChunkBytes + 1]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.WriteHeaderAsync(key, new byte[EntryStore.MaxChunkBytes + 1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.WriteChunkAsync(key, 0, 0, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.WriteChunkAsync(key, generation, -1, new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.ReadChunkAsync(key, 0, 0));
        Assert.Null(await store.ReadChunkAsync(key, generation, 1));
    }

    [Fact]
    public void Options_are_validated_with_messages_naming_the_option()
    {
        var tooSmallDisk = Assert.Throws<ArgumentException>(() => new EntryStore(new StoreOptions { Directory = _dir.Path, DiskBudgetBytes = 8L << 20 }, NullLogger<EntryStore>.Instance));
        Assert.Contains("DiskBudgetBytes must be at least 16 MiB", tooSmallDisk.Message);
        var tooSmallMemory = Assert.Throws<ArgumentException>(() => new EntryStore(new StoreOptions { Directory = _dir.Path, MemoryBudgetBytes = 1L << 20 }, NullLogger<EntryStore>.Instance));
        Assert.Contains("MemoryBudgetBytes", tooSmallMemory.Message);
        var tooBigMemory = Assert.Throws<ArgumentException>(() => new EntryStore(new StoreOptions { Directory = _dir.Path, MemoryBudgetBytes = 1L << 40 }, NullLogger<EntryStore>.Instance));
        Assert.Contains("MemoryBudgetBytes", tooBigMemory.Message);
        var noDirectory = Assert.Throws<ArgumentException>(() => new EntryStore(new StoreOptions { Directory = " " }, NullLogger<EntryStore>.Instance));
        Assert.Contains("Directory", noDirectory.Message);
    }

    [Fact]
    public async Task Calls_before_open_and_after_dispose_fail_clearly()
    {
        var store = new EntryStore(new StoreOptions { Directory = _dir.Path, DiskBudgetBytes = 32L << 20, MemoryBudgetBytes = 4L << 20 }, _logger);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.ReadHeaderAsync(Data.Key(1)));
        await store.OpenAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.OpenAsync());
        await store.WriteHeaderAsync(Data.Key(1), new byte[10]);
        await store.DisposeAsync();
        await store.DisposeAsync(); // idempotent (DI disposes the singleton again)
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.ReadHeaderAsync(Data.Key(1)));
    }

    [Fact]
    public async Task Full_chunks_pack_pages_without_waste()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger);
        var key = Data.Key(6);
        long generation = store.NewGeneration();
        var chunk = new byte[EntryStore.MaxChunkBytes];
        // Page 0 starts at address 64, so its last 64 KiB slot is lost once; after that pages hold 16 chunks.
        for (int i = 0; i < 16; i++)
            await store.WriteChunkAsync(key, generation, i, chunk);
        long before = store.GetStats().TailAddress;
        const int n = 64;
        for (int i = 16; i < 16 + n; i++)
            await store.WriteChunkAsync(key, generation, i, chunk);
        long growth = store.GetStats().TailAddress - before;
        output.WriteLine($"{n} chunks of {EntryStore.MaxChunkBytes} bytes grew the log by {growth} bytes");
        Assert.Equal(n * 65536L, growth);
    }

    [Fact]
    public async Task Generations_increase_across_restarts()
    {
        long last;
        await using (var store = await Data.OpenAsync(_dir.Path, _logger))
        {
            long a = store.NewGeneration();
            long b = store.NewGeneration();
            Assert.True(a > 0);
            Assert.True(b > a);
            await store.WriteHeaderAsync(Data.Key(1), new byte[1]);
            for (int i = 0; i < 1000; i++)
                store.NewGeneration();
            last = store.NewGeneration();
        }

        await using var reopened = await Data.OpenAsync(_dir.Path, _logger);
        Assert.True(reopened.Recovered);
        long next = reopened.NewGeneration();
        Assert.True(next > last, $"{next} > {last}");
        Assert.True(reopened.NewGeneration() > next);
    }

    [Fact]
    public async Task Concurrent_callers_share_the_store_and_reads_from_disk_are_intact()
    {
        // 4 MiB of memory and 24 MiB of data: most reads go to disk (pending I/O).
        await using var store = await Data.OpenAsync(_dir.Path, _logger, diskBudget: 64L << 20, memory: 4L << 20);
        const int entries = 128;
        int[] sizes = [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 777];
        var generations = new long[entries];
        await Parallel.ForAsync(0, entries, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            generations[i] = store.NewGeneration();
            await Data.WriteEntryAsync(store, Data.Key(1000 + i), generations[i], sizes);
        });
        Assert.Equal(entries, generations.Distinct().Count());

        var stats = store.GetStats();
        output.WriteLine($"after writes: {stats}");
        await Parallel.ForAsync(0, entries * 2, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (j, _) =>
        {
            Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(1000 + j % entries), sizes));
        });
        output.WriteLine($"after reads: {store.GetStats()}");
    }
}
