using System.Runtime.InteropServices;
using CacheCluster.Grains.Storage;

namespace CacheCluster.Store.Tests;

/// <summary>The store's log device: what it writes reads back, segments are files, and its blocking disk calls
/// run off the thread pool (a busy disk must not stall requests and grain calls).</summary>
public sealed class FileDeviceTests : IDisposable
{
    private const int Page = 4096;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A sector-aligned native buffer, as FASTER hands the device.</summary>
    private sealed unsafe class NativePage : IDisposable
    {
        public IntPtr Address { get; } = (IntPtr)NativeMemory.AlignedAlloc(Page, 4096);
        public Span<byte> Bytes => new((void*)Address, Page);
        public void Dispose() => NativeMemory.AlignedFree((void*)Address);
    }

    /// <summary>What a completion reported, and on which thread it ran (a disk thread is named store-disk-*).</summary>
    private sealed record Completion(uint Error, uint Bytes, string? Thread);

    private static Task<Completion> Run(Action<FASTER.core.DeviceIOCompletionCallback> start)
    {
        var done = new TaskCompletionSource<Completion>(TaskCreationOptions.RunContinuationsAsynchronously);
        start((error, bytes, _) => done.TrySetResult(new Completion(error, bytes, Thread.CurrentThread.Name)));
        return done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Pages_written_to_two_segments_read_back_byte_for_byte_and_writes_run_off_the_thread_pool()
    {
        using var device = new FileDevice(Path.Combine(_dir.Path, "log", "hlog.log"));
        device.Initialize(1L << 20);
        using var source = new NativePage();
        using var target = new NativePage();
        for (int segment = 0; segment < 2; segment++)
        {
            for (int i = 0; i < Page; i++) source.Bytes[i] = (byte)(i * 7 + segment);
            var written = await Run(cb => device.WriteAsync(source.Address, segment, 8192, Page, cb, null!));
            Assert.Equal(0u, written.Error);
            Assert.Equal((uint)Page, written.Bytes);
            Assert.StartsWith("store-disk-write", written.Thread);
        }

        for (int segment = 0; segment < 2; segment++)
        {
            var read = await Run(cb => device.ReadAsync(segment, 8192, target.Address, Page, cb, null!));
            Assert.Equal(0u, read.Error);
            Assert.Equal((uint)Page, read.Bytes);
            for (int i = 0; i < Page; i++) Assert.Equal((byte)(i * 7 + segment), target.Bytes[i]);
        }

        Assert.True(File.Exists(Path.Combine(_dir.Path, "log", "hlog.log.0")));
        Assert.Equal(8192 + Page, new FileInfo(Path.Combine(_dir.Path, "log", "hlog.log.1")).Length);
        Assert.Equal(0, device.Pending);

        device.RemoveSegment(0);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "log", "hlog.log.0")));
    }

    /// <summary>A device whose segment 0 holds one page, byte i being <paramref name="pattern"/>(i).</summary>
    private static async Task<FileDevice> OnePageAsync(string file, Func<int, byte> pattern)
    {
        var device = new FileDevice(file);
        device.Initialize(1L << 20);
        using var source = new NativePage();
        for (int i = 0; i < Page; i++) source.Bytes[i] = pattern(i);
        await Run(cb => device.WriteAsync(source.Address, 0, 0, Page, cb, null!));
        return device;
    }

    /// <summary>
    /// A read the page cache holds completes at once on the caller's thread (no hand-off to a disk thread and back);
    /// one that needs the disk goes to a disk thread, so the caller (a request or a grain turn) never waits for a disk.
    /// </summary>
    [Fact]
    public async Task A_cached_read_completes_on_the_callers_thread_and_one_that_needs_the_disk_on_a_disk_thread()
    {
        var file = Path.Combine(_dir.Path, "hlog.log");
        using var device = await OnePageAsync(file, i => (byte)(i * 13));
        using var target = new NativePage();

        var caller = Thread.CurrentThread.Name;
        Completion? inline = null;
        device.ReadAsync(0, 0, target.Address, Page, (e, n, _) => inline = new Completion(e, n, Thread.CurrentThread.Name), null!);
        Assert.NotNull(inline); // completed before ReadAsync returned
        Assert.Equal(new Completion(0, Page, caller), inline);
        for (int i = 0; i < Page; i++) Assert.Equal((byte)(i * 13), target.Bytes[i]);

        // Out of the page cache: written back, then dropped.
        device.Sync();
        using (var handle = File.OpenHandle(file + ".0"))
            Assert.Equal(0, posix_fadvise(handle, 0, 0, PosixFadviseDontNeed));
        target.Bytes.Clear();
        var fromDisk = await Run(cb => device.ReadAsync(0, 0, target.Address, Page, cb, null!));
        Assert.Equal(0u, fromDisk.Error);
        Assert.Equal((uint)Page, fromDisk.Bytes);
        Assert.StartsWith("store-disk-read", fromDisk.Thread);
        for (int i = 0; i < Page; i++) Assert.Equal((byte)(i * 13), target.Bytes[i]);
    }

    /// <summary>A read past the end of a segment reports the bytes that were there, inline as on a disk thread.</summary>
    [Fact]
    public async Task A_cached_read_past_the_end_reports_the_bytes_there_were()
    {
        using var device = await OnePageAsync(Path.Combine(_dir.Path, "hlog.log"), i => (byte)(i * 5));
        unsafe
        {
            var target = (IntPtr)NativeMemory.AlignedAlloc(2 * Page, 4096);
            try
            {
                Completion? inline = null;
                device.ReadAsync(0, 0, target, 2 * Page, (e, n, _) => inline = new Completion(e, n, Thread.CurrentThread.Name), null!);
                Assert.NotNull(inline);
                Assert.Equal(0u, inline.Error);
                Assert.Equal((uint)Page, inline.Bytes);
                var read = new Span<byte>((void*)target, Page);
                for (int i = 0; i < Page; i++) Assert.Equal((byte)(i * 5), read[i]);
            }
            finally { NativeMemory.AlignedFree((void*)target); }
        }
    }

    private const int PosixFadviseDontNeed = 4;

    [DllImport("libc")]
    private static extern int posix_fadvise(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, long length, int advice);

    [Fact]
    public async Task A_missing_segment_reads_as_nothing_and_is_not_created()
    {
        using var device = new FileDevice(Path.Combine(_dir.Path, "hlog.log"));
        device.Initialize(1L << 20);
        using var target = new NativePage();
        var read = await Run(cb => device.ReadAsync(5, 0, target.Address, Page, cb, null!));
        Assert.Equal(0u, read.Error);
        Assert.Equal(0u, read.Bytes);
        Assert.False(File.Exists(Path.Combine(_dir.Path, "hlog.log.5")));
    }

    [Fact]
    public async Task A_write_that_fails_reports_an_error_code()
    {
        using var device = new FileDevice(Path.Combine(_dir.Path, "hlog.log"));
        device.Initialize(1L << 20);
        Directory.CreateDirectory(Path.Combine(_dir.Path, "hlog.log.0")); // the segment's name is taken: it cannot be opened
        using var source = new NativePage();
        var written = await Run(cb => device.WriteAsync(source.Address, 0, 0, Page, cb, null!));
        Assert.NotEqual(0u, written.Error);
        Assert.Equal(0u, written.Bytes);
    }
}
