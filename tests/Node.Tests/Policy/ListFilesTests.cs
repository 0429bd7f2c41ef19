using System.Diagnostics;
using CacheCluster.Node.Policy;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Policy;

/// <summary>List files of access rules: where they may come from, how much is read, what an error shows.</summary>
public class ListFilesTests
{
    [Fact]
    public void Rules_set_at_run_time_cannot_name_files_without_a_list_folder()
    {
        var ex = Assert.Throws<ListFileRefusedException>(() => ListFiles.ResolveUnder(null, "/etc/hosts"));
        Assert.Contains("Access:ListDirectory", ex.Message);
    }

    [Fact]
    public void An_endless_file_is_refused_after_a_bounded_read()
    {
        // The configuration may name files anywhere; even so /dev/zero must not be read whole.
        var before = GC.GetTotalAllocatedBytes();
        var sw = Stopwatch.StartNew();
        var error = DomainList.LoadFile("/dev/zero", new DomainList());
        Assert.NotNull(error);
        Assert.Contains("larger than", error);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.True(GC.GetTotalAllocatedBytes() - before < 256L << 20, "read far more than the bound");
    }

    [Fact]
    public void A_configured_list_file_error_names_the_line_not_its_content()
    {
        var file = Path.Combine(TempDir.Create("list"), "l.txt");
        File.WriteAllText(file, "ok.test\n\nTOKEN=abc123secret\n");
        var error = DomainList.LoadFile(file, new DomainList());
        Assert.NotNull(error);
        Assert.Contains("line 3", error);
        Assert.DoesNotContain("abc123secret", error);
    }

    [Fact]
    public void Inside_the_folder_links_are_followed_before_the_check()
    {
        var dir = ListFiles.RealPath(TempDir.Create("lists"))!;
        File.WriteAllText(Path.Combine(dir, "a.txt"), "a.test\n");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.CreateSymbolicLink(Path.Combine(dir, "sub", "inside.txt"), Path.Combine(dir, "a.txt"));
        Directory.CreateSymbolicLink(Path.Combine(dir, "etc"), "/etc");
        Assert.Equal(Path.Combine(dir, "a.txt"), ListFiles.ResolveUnder(dir, "a.txt"));
        Assert.Equal(Path.Combine(dir, "a.txt"), ListFiles.ResolveUnder(dir, "sub/inside.txt"));
        Assert.Throws<ListFileRefusedException>(() => ListFiles.ResolveUnder(dir, "etc/hostname"));
        Assert.Throws<ListFileRefusedException>(() => ListFiles.ResolveUnder(dir, "../a.txt"));
        Assert.Throws<ListFileRefusedException>(() => ListFiles.ResolveUnder(dir, "/proc/self/environ"));
    }

    [Fact]
    public async Task A_fifo_in_the_list_folder_does_not_hang_the_reader()
    {
        var fifo = Path.Combine(TempDir.Create("fifo"), "pipe");
        using (var mk = Process.Start("mkfifo", fifo)) await mk.WaitForExitAsync();
        var read = Task.Run(() => DomainList.LoadFile(fifo, new DomainList()));
        Assert.Same(read, await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(5)))); // no writer: must not block
    }
}
