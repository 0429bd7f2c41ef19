using System.Diagnostics;
using CacheCluster.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Store.Tests;

public sealed class RecoveryTests(ITestOutputHelper output) : IDisposable
{
    private static readonly int[] Sizes = Program.ChunkSizes;
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<EntryStore> _logger = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Checkpoint_dispose_reopen_keeps_everything()
    {
        var generations = new long[40];
        await using (var store = await Data.OpenAsync(_dir.Path, _logger))
        {
            Assert.False(store.Recovered);
            for (int i = 0; i < 20; i++)
                await Data.WriteEntryAsync(store, Data.Key(i), generations[i] = store.NewGeneration(), Sizes);
            await store.CheckpointAsync();
            for (int i = 20; i < 40; i++)
                await Data.WriteEntryAsync(store, Data.Key(i), generations[i] = store.NewGeneration(), Sizes);
            var stats = store.GetStats();
            Assert.Equal(1, stats.Checkpoints);
            Assert.NotNull(stats.LastCheckpoint);
        } // DisposeAsync takes the final checkpoint

        var stopwatch = Stopwatch.StartNew();
        await using var reopened = await Data.OpenAsync(_dir.Path, _logger);
        output.WriteLine($"recovered {reopened.GetStats().LogBytes >> 20} MiB in {stopwatch.ElapsedMilliseconds} ms");
        Assert.True(reopened.Recovered);
        Assert.True(_logger.Has(LogLevel.Information, "recovered checkpoint"));
        for (int i = 0; i < 40; i++)
            Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(reopened, Data.Key(i), Sizes));

        // Only the latest checkpoint is kept.
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "checkpoints", "cpr-checkpoints")));
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "checkpoints", "index-checkpoints")));

        // The reopened store keeps working.
        await Data.WriteEntryAsync(reopened, Data.Key(100), reopened.NewGeneration(), Sizes);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(reopened, Data.Key(100), Sizes));
    }

    [Fact]
    public async Task Repeated_checkpoints_keep_one_on_disk_and_concurrent_callers_share()
    {
        await using var store = await Data.OpenAsync(_dir.Path, _logger);
        for (int round = 0; round < 5; round++)
        {
            await Data.WriteEntryAsync(store, Data.Key(round), store.NewGeneration(), Sizes);
            await Task.WhenAll(store.CheckpointAsync(), store.CheckpointAsync(), store.CheckpointAsync());
        }

        var stats = store.GetStats();
        Assert.InRange(stats.Checkpoints, 5, 10);
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "checkpoints", "cpr-checkpoints")));
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "checkpoints", "index-checkpoints")));
    }

    [Fact]
    public async Task Kill_9_after_checkpoint_recovers_checkpointed_entries_and_nothing_half_written()
    {
        // Child: 30 entries, checkpoint, then keeps writing until killed. Budget large enough for no eviction.
        await RunAndKillWriterAsync(budgetMiB: 256, memoryMiB: 16, before: 30, afterMiB: 4, stop: false);

        await using var store = await Data.OpenAsync(_dir.Path, _logger, diskBudget: 256L << 20, memory: 16L << 20);
        Assert.True(store.Recovered);
        for (int i = 0; i < 30; i++)
            Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(i), Sizes));

        int present = 0;
        for (int i = 30; i < 200; i++)
        {
            var state = await Data.CheckEntryAsync(store, Data.Key(i), Sizes); // throws on any wrong byte
            if (state != Data.EntryState.Absent)
                present++;
        }

        output.WriteLine($"entries written after the checkpoint that survived: {present}");
        await Data.WriteEntryAsync(store, Data.Key(500), store.NewGeneration(), Sizes);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(500), Sizes));
    }

    [Fact]
    public async Task Kill_9_after_eviction_passed_the_checkpoint_recovers_what_is_left()
    {
        // 32 MiB budget; ~19 MiB written before the checkpoint, then ~16 MiB more: the disk budget deletes the
        // oldest checkpointed segments before the kill. Recovery must cope (FASTER alone refuses) and serve
        // only intact entries.
        await RunAndKillWriterAsync(budgetMiB: 32, memoryMiB: 8, before: 100, afterMiB: 16, stop: true);

        await using var store = await Data.OpenAsync(_dir.Path, _logger, diskBudget: 32L << 20, memory: 8L << 20);
        Assert.True(store.Recovered);
        var stats = store.GetStats();
        output.WriteLine($"recovered: {stats}");
        Assert.True(stats.BeginAddress > 1L << 20, "the begin address moved past the evicted segments");
        Assert.True(_logger.Has(LogLevel.Warning, "evicted after it was taken"));

        var states = new Dictionary<Data.EntryState, int>();
        for (int i = 0; i < 100; i++)
        {
            var state = await Data.CheckEntryAsync(store, Data.Key(i), Sizes);
            states[state] = states.GetValueOrDefault(state) + 1;
        }

        output.WriteLine(string.Join(", ", states.Select(kv => $"{kv.Key}={kv.Value}")));
        Assert.True(states.GetValueOrDefault(Data.EntryState.Intact) > 20, "the newest checkpointed entries survive");
        Assert.True(states.GetValueOrDefault(Data.EntryState.Absent) > 20, "the oldest were evicted");
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(99), Sizes));
        for (int i = 100; i < 400; i++)
            await Data.CheckEntryAsync(store, Data.Key(i), Sizes);
        Assert.True(Data.DirectorySize(_dir.Path) <= 32L << 20);

        await Data.WriteEntryAsync(store, Data.Key(1000), store.NewGeneration(), Sizes);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(1000), Sizes));
    }

    [Fact]
    public async Task Kill_9_after_eviction_passed_the_whole_checkpoint_starts_empty_within_budget()
    {
        // ~13 MiB checkpointed, then 40 MiB more with no checkpoint (the timer is off): nothing the checkpoint
        // refers to is left, so the store starts empty (and says so) instead of serving anything.
        await RunAndKillWriterAsync(budgetMiB: 32, memoryMiB: 8, before: 100, afterMiB: 40, stop: true);

        await using var store = await Data.OpenAsync(_dir.Path, _logger, diskBudget: 32L << 20, memory: 8L << 20);
        Assert.False(store.Recovered);
        Assert.True(_logger.Has(LogLevel.Warning, "could not be recovered"));
        Assert.Equal(0, store.GetStats().LogBytes);
        for (int i = 0; i < 400; i++)
            Assert.Equal(Data.EntryState.Absent, await Data.CheckEntryAsync(store, Data.Key(i), Sizes));
        Assert.True(Data.DirectorySize(_dir.Path) <= 32L << 20);
        await Data.WriteEntryAsync(store, Data.Key(1000), store.NewGeneration(), Sizes);
        Assert.Equal(Data.EntryState.Intact, await Data.CheckEntryAsync(store, Data.Key(1000), Sizes));
    }

    [Fact]
    public async Task A_flipped_byte_on_disk_reads_as_missing_never_as_wrong_bytes()
    {
        var chunkKey = Data.Key(1);
        var headerKey = Data.Key(2);
        long generation;
        await using (var store = await Data.OpenAsync(_dir.Path, _logger))
        {
            generation = store.NewGeneration();
            await store.WriteChunkAsync(chunkKey, generation, 0, Data.Chunk(chunkKey, generation, 0, EntryStore.MaxChunkBytes));
            await store.WriteChunkAsync(chunkKey, generation, 1, Data.Chunk(chunkKey, generation, 1, EntryStore.MaxChunkBytes));
            await store.WriteHeaderAsync(headerKey, Data.Header(headerKey, generation, 0, 3000));
            await store.WriteHeaderAsync(chunkKey, Data.Header(chunkKey, generation, 2));
        }

        FlipByteOf(Data.Chunk(chunkKey, generation, 0, EntryStore.MaxChunkBytes), offset: 40_000);
        FlipByteOf(Data.Header(headerKey, generation, 0, 3000), offset: 2000);

        await using var reopened = await Data.OpenAsync(_dir.Path, _logger);
        Assert.True(reopened.Recovered);
        Assert.Null(await reopened.ReadChunkAsync(chunkKey, generation, 0));
        Assert.Null(await reopened.ReadHeaderAsync(headerKey));
        Assert.Equal(Data.Chunk(chunkKey, generation, 1, EntryStore.MaxChunkBytes), await reopened.ReadChunkAsync(chunkKey, generation, 1));
        Assert.Equal(Data.Header(chunkKey, generation, 2), await reopened.ReadHeaderAsync(chunkKey));
        Assert.True(_logger.Has(LogLevel.Warning, "checksum"));
    }

    /// <summary>Finds <paramref name="payload"/> in the log segment files and flips one byte of it.</summary>
    private void FlipByteOf(byte[] payload, int offset)
    {
        var needle = payload.AsSpan(offset - 16, 32).ToArray();
        foreach (var file in Directory.GetFiles(Path.Combine(_dir.Path, "log")))
        {
            var bytes = File.ReadAllBytes(file);
            int at = bytes.AsSpan().IndexOf(needle);
            if (at < 0)
                continue;
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
            stream.Position = at + 16;
            stream.WriteByte((byte)(bytes[at + 16] ^ 0x01));
            return;
        }

        Assert.Fail("payload not found in any log segment");
    }

    private async Task RunAndKillWriterAsync(int budgetMiB, int memoryMiB, int before, int afterMiB, bool stop)
    {
        var assembly = typeof(Program).Assembly.Location;
        // The test host runs under the dotnet host; use the same one for the child.
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "exec", assembly, "crash-writer", _dir.Path, budgetMiB.ToString(), memoryMiB.ToString(), before.ToString(), afterMiB.ToString(), stop ? "stop" : "continue" })
            start.ArgumentList.Add(arg);

        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        bool checkpointed = false, afterDone = false;
        int wroteAfterDone = 0;
        string? last = null;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        try
        {
            while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                last = line;
                if (line.StartsWith("CHECKPOINTED", StringComparison.Ordinal))
                    checkpointed = true;
                else if (line == "AFTER-DONE")
                    afterDone = true;
                else if (afterDone && line.StartsWith("WROTE", StringComparison.Ordinal))
                    wroteAfterDone++;

                // "stop": the child idles after AFTER-DONE; "continue": kill it in the middle of further writes.
                if (afterDone && (stop || wroteAfterDone >= 3))
                    break;
            }
        }
        finally
        {
            child.Kill(); // SIGKILL: no dispose, no final checkpoint
            await child.WaitForExitAsync();
        }

        output.WriteLine($"child killed: exit {child.ExitCode}, checkpointed {checkpointed}, after-done {afterDone}, last line '{last}'; stderr: {await stderr}");
        foreach (var file in Directory.GetFiles(_dir.Path, "*", SearchOption.AllDirectories).Order())
            output.WriteLine($"  {Path.GetRelativePath(_dir.Path, file)} {new FileInfo(file).Length}");
        Assert.True(checkpointed && afterDone, "the child reached the kill point");
    }
}
