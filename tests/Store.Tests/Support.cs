using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Store.Tests;

/// <summary>A temp folder deleted on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "store-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public long SizeOnDisk() => Data.DirectorySize(Path);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>Logger that keeps what was logged (and echoes to the test output when given one).</summary>
public sealed class ListLogger<T>(ITestOutputHelper? output = null) : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception) + (exception is null ? "" : " | " + exception.GetType().Name + ": " + exception.Message);
        Entries.Enqueue((logLevel, message));
        if (logLevel >= LogLevel.Information)
        {
            try
            {
                output?.WriteLine($"[{logLevel}] {message}");
            }
            catch (InvalidOperationException)
            {
                // The test already finished.
            }
        }
    }

    public bool Has(LogLevel level, string fragment)
    {
        foreach (var (l, m) in Entries)
        {
            if (l == level && m.Contains(fragment, StringComparison.OrdinalIgnoreCase))
                return true;
        }

        return false;
    }
}

/// <summary>Deterministic test content: every byte of a record follows from its key.</summary>
public static class Data
{
    public static UInt128 Key(int i) => new((ulong)i * 0x9E3779B97F4A7C15UL + 17, (ulong)i);

    public static byte[] Chunk(UInt128 key, long generation, int index, int length)
    {
        var bytes = new byte[length];
        ulong state = XxHash3.HashToUInt64(BitConverter.GetBytes((ulong)key ^ (ulong)(key >> 64) ^ (ulong)generation * 31 ^ (ulong)index * 1_000_003)) | 1;
        Span<byte> word = stackalloc byte[8];
        for (int i = 0; i < bytes.Length; i += 8)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            BinaryPrimitives.WriteUInt64LittleEndian(word, state);
            word[..Math.Min(8, bytes.Length - i)].CopyTo(bytes.AsSpan(i));
        }

        return bytes;
    }

    /// <summary>A header that names the generation and chunk count of its body, like the grain's.</summary>
    public static byte[] Header(UInt128 key, long generation, int chunks, int length = 600)
    {
        var bytes = Chunk(key, -generation, -1, Math.Max(length, 16));
        BitConverter.GetBytes(generation).CopyTo(bytes, 0);
        BitConverter.GetBytes(chunks).CopyTo(bytes, 8);
        return bytes;
    }

    public static long DirectorySize(string path)
    {
        long total = 0;
        try
        {
            foreach (var file in new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories))
            {
                try
                {
                    total += file.Length;
                }
                catch (FileNotFoundException)
                {
                }
            }
        }
        catch (DirectoryNotFoundException)
        {
        }

        return total;
    }

    public static async Task<EntryStore> OpenAsync(string dir, ILogger<EntryStore> logger, long diskBudget = 64L << 20, long memory = 8L << 20, TimeSpan? checkpointInterval = null)
    {
        var store = new EntryStore(new StoreOptions
        {
            Directory = dir,
            DiskBudgetBytes = diskBudget,
            MemoryBudgetBytes = memory,
            CheckpointInterval = checkpointInterval ?? TimeSpan.Zero,
        }, logger);
        await store.OpenAsync();
        return store;
    }

    /// <summary>Writes an entry the way the grain does: chunks first, header last.</summary>
    public static async Task WriteEntryAsync(EntryStore store, UInt128 key, long generation, int[] chunkSizes)
    {
        long floor = store.ChunkFloor;
        for (int i = 0; i < chunkSizes.Length; i++)
            await store.WriteChunkAsync(key, generation, i, Chunk(key, generation, i, chunkSizes[i]));
        await store.WriteHeaderAsync(key, Header(key, generation, chunkSizes.Length),
            new EntryExtent(generation, chunkSizes.Length, chunkSizes.Sum(), floor));
    }

    public enum EntryState { Absent, Intact, Partial }

    /// <summary>Reads an entry back: absent (no header), intact, or partial (some chunks evicted). Throws if
    /// any returned byte differs from what was written.</summary>
    public static async Task<EntryState> CheckEntryAsync(EntryStore store, UInt128 key, int[] chunkSizes)
    {
        var header = await store.ReadHeaderAsync(key);
        if (header is null)
            return EntryState.Absent;
        long generation = BitConverter.ToInt64(header, 0);
        Assert.Equal(Header(key, generation, chunkSizes.Length), header);
        var state = EntryState.Intact;
        for (int i = 0; i < chunkSizes.Length; i++)
        {
            var chunk = await store.ReadChunkAsync(key, generation, i);
            if (chunk is null)
            {
                state = EntryState.Partial;
                continue;
            }

            Assert.Equal(Chunk(key, generation, i, chunkSizes[i]), chunk);
        }

        return state;
    }
}
