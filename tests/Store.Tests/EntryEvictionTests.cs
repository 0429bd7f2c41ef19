using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Store.Tests;

/// <summary>Eviction takes whole entries: an entry is readable whole or not at all, used ones are kept (CLOCK),
/// pinned ones (being streamed) are kept, and the store's entry counts are exact.</summary>
public sealed class EntryEvictionTests(ITestOutputHelper output) : IDisposable
{
    private const long Budget = 16L << 20;
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<EntryStore> _logger = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Entries_are_evicted_whole_and_counted_exactly()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger, Budget, 4L << 20);
        int[] sizes = [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 5000];
        const int entries = 400; // ~53 MiB: three budgets
        var generations = new long[entries];
        for (int i = 0; i < entries; i++)
            await Data.WriteEntryAsync(store, Data.Key(i), generations[i] = store.NewGeneration(), sizes);

        int intact = 0, absent = 0;
        for (int i = 0; i < entries; i++)
        {
            var state = await Data.CheckEntryAsync(store, Data.Key(i), sizes);
            Assert.NotEqual(Data.EntryState.Partial, state);
            Assert.Equal(state == Data.EntryState.Intact, store.IsWhole(Data.Key(i), generations[i]));
            if (state == Data.EntryState.Intact) intact++; else absent++;
        }

        var stats = store.GetStats();
        output.WriteLine($"{intact} whole, {absent} evicted; {stats}");
        Assert.True(absent > entries / 2, "most entries were evicted");
        Assert.True(intact > 20, "the newest entries are whole");
        Assert.Equal(intact, stats.Entries);
        Assert.Equal(intact * (long)sizes.Sum(), stats.BodyBytes);
        Assert.Equal(absent, stats.EvictedEntries);
        Assert.Equal(0, stats.MovedEntries); // nothing was used: nothing copied
    }

    [Fact]
    public async Task A_pinned_entry_is_kept_and_an_unused_one_of_the_same_age_is_not()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger, Budget, 4L << 20);
        int[] sizes = [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 100];
        UInt128 pinned = Data.Key(1), unused = Data.Key(2);
        await Data.WriteEntryAsync(store, pinned, store.NewGeneration(), sizes);
        await Data.WriteEntryAsync(store, unused, store.NewGeneration(), sizes);

        // A slow reader keeps streaming the pinned entry (every chunk read renews the pin) while three budgets of
        // other entries flow through.
        for (int i = 0; i < 300; i++)
        {
            await Data.WriteEntryAsync(store, Data.Key(1000 + i), store.NewGeneration(), [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 7000]);
            if (i % 10 == 0)
            {
                store.Pin(pinned);
                await Task.Delay(5); // let the reinserter run
            }
        }

        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, pinned, sizes));
        Assert.Equal(Data.EntryState.Absent, await Data.CheckEntryAsync(store, unused, sizes));
        Assert.True(store.GetStats().MovedEntries > 0);
    }
}
