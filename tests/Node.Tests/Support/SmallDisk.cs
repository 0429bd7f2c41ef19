using System.Diagnostics;

namespace CacheCluster.Node.Tests.Support;

/// <summary>
/// A small tmpfs mounted on a fresh folder (tests run as root here): a real file system that runs out of space.
/// <see cref="TryMount"/> gives null and a reason where mounting is not permitted.
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private SmallDisk(string root) => Root = root;

    public string Root { get; }
    public string Filler => Path.Combine(Root, "filler");

    public static SmallDisk? TryMount(int sizeMiB, out string reason)
    {
        var root = TempDir.Create("small-disk");
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={sizeMiB}m", "tmpfs", root);
        reason = code == 0 ? "" : $"cannot mount a tmpfs here (mount exited {code}: {output.Trim()}); the disk-full tests need root or CAP_SYS_ADMIN";
        return code == 0 ? new SmallDisk(root) : null;
    }

    /// <summary>Writes a file until the file system is full.</summary>
    public void Fill()
    {
        var block = new byte[1 << 20];
        using var file = new FileStream(Filler, FileMode.Append, FileAccess.Write);
        try
        {
            for (int i = 0; i < 100_000; i++) { file.Write(block); file.Flush(); }
        }
        catch (IOException) { /* full */ }
    }

    public void Free() => File.Delete(Filler);

    public long FreeBytes => new DriveInfo(Root).AvailableFreeSpace;

    public void Dispose()
    {
        if (Run("umount", Root).Code != 0) Run("umount", "-l", Root);
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit(10_000);
            return (p.ExitCode, output);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return (-1, ex.Message);
        }
    }
}
