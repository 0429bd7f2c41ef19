using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace CacheCluster.Store.Tests;

/// <summary>
/// Entry point of the test assembly when run as a child process by <see cref="CrashRecoveryTests"/>:
/// <c>dotnet Store.Tests.dll crash-writer DIR BUDGET_MIB MEMORY_MIB ENTRIES_BEFORE BYTES_AFTER_MIB MODE</c>.
/// Writes ENTRIES_BEFORE entries, checkpoints, prints "CHECKPOINTED", then writes further entries, printing
/// "WROTE n" after each and "AFTER-DONE" once BYTES_AFTER_MIB were written. MODE "continue" keeps writing
/// until killed (the kill lands mid-write); MODE "stop" stops writing at AFTER-DONE and waits to be killed
/// (the amount written after the checkpoint is exact). It never checkpoints again and never disposes the store.
/// </summary>
public static class Program
{
    public static readonly int[] ChunkSizes = [EntryStore.MaxChunkBytes, EntryStore.MaxChunkBytes, 5000];

    public static async Task<int> Main(string[] args)
    {
        if (args.Length != 7 || args[0] != "crash-writer")
        {
            Console.Error.WriteLine("usage: crash-writer DIR BUDGET_MIB MEMORY_MIB ENTRIES_BEFORE BYTES_AFTER_MIB continue|stop");
            return 2;
        }

        var store = new EntryStore(new StoreOptions
        {
            Directory = args[1],
            DiskBudgetBytes = long.Parse(args[2]) << 20,
            MemoryBudgetBytes = long.Parse(args[3]) << 20,
            CheckpointInterval = TimeSpan.Zero,
        }, NullLogger<EntryStore>.Instance);
        await store.OpenAsync();
        int before = int.Parse(args[4]);
        long after = long.Parse(args[5]) << 20;
        bool stop = args[6] == "stop";

        for (int i = 0; i < before; i++)
            await Data.WriteEntryAsync(store, Data.Key(i), store.NewGeneration(), ChunkSizes);
        await store.CheckpointAsync();
        Console.WriteLine($"CHECKPOINTED {store.GetStats().TailAddress}");

        long start = store.GetStats().TailAddress;
        bool announced = false;
        for (int i = before; ; i++)
        {
            await Data.WriteEntryAsync(store, Data.Key(i), store.NewGeneration(), ChunkSizes);
            long tail = store.GetStats().TailAddress;
            Console.WriteLine($"WROTE {i} {tail}");
            if (!announced && tail - start >= after)
            {
                announced = true;
                Console.WriteLine("AFTER-DONE");
                if (stop)
                    await Task.Delay(Timeout.Infinite);
            }

            if (announced)
                await Task.Delay(1);
        }
    }
}
