using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace CacheCluster.Node.Policy;

/// <summary>A list file an access rule names was refused (outside the list folder, missing, too large): a message safe to show the caller.</summary>
public sealed class ListFileRefusedException(string message) : Exception(message);

/// <summary>
/// Reading the list files access rules name (<c>dstdomain="file"</c>). Configuration (the operator's own files) may
/// name files anywhere; rules set at run time through the management API may only name files under
/// <c>Access:ListDirectory</c>, with symbolic links resolved before the check, so the API can never be made to
/// read /proc/self/environ or /etc/shadow. Every read is bounded (<see cref="MaxBytes"/>), so an endless
/// file such as /dev/zero is refused after that many bytes, and callers report bad lines by number, never
/// by content.
/// </summary>
public static class ListFiles
{
    /// <summary>A list file larger than this is refused (about 800,000 domain names).</summary>
    public const long MaxBytes = 16L << 20;

    /// <summary>
    /// The resolver for rules set at run time: <paramref name="name"/> (relative to the folder, or absolute)
    /// must resolve, links followed, to a file inside <paramref name="listDirectory"/> (itself fully resolved).
    /// </summary>
    public static string ResolveUnder(string? listDirectory, string name)
    {
        if (listDirectory is null)
            throw new ListFileRefusedException("list files cannot be named in rules set at run time unless Access:ListDirectory is configured; give the entries inline (dstdomain=a.example,.b.example) or in the configuration");
        string full;
        try { full = Path.GetFullPath(name, listDirectory); }
        catch (ArgumentException) { throw new ListFileRefusedException($"'{name}' is not a file name"); }
        // Checked before touching the file (nothing about files elsewhere is revealed), then again with links resolved.
        if (!IsInside(full, listDirectory))
            throw new ListFileRefusedException($"'{name}' is outside Access:ListDirectory; rules set at run time may only name files in that folder");
        var real = RealPath(full) ?? throw new ListFileRefusedException($"'{name}' does not exist in Access:ListDirectory");
        if (!IsInside(real, listDirectory))
            throw new ListFileRefusedException($"'{name}' links to a file outside Access:ListDirectory; rules set at run time may only name files in that folder");
        return real;
    }

    private static bool IsInside(string path, string directory) =>
        path.StartsWith(directory.EndsWith(Path.DirectorySeparatorChar) ? directory : directory + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link resolved (realpath(3)); null when it does not exist.</summary>
    public static string? RealPath(string path)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            var resolved = realpath(path, IntPtr.Zero);
            if (resolved == IntPtr.Zero) return null;
            try { return Marshal.PtrToStringUTF8(resolved); }
            finally { free(resolved); }
        }
        if (!File.Exists(path) && !Directory.Exists(path)) return null;
        var info = new FileInfo(path);
        return info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }

    /// <summary>
    /// The lines of a list file, reading at most <see cref="MaxBytes"/> + 1 bytes. Returns an error sentence
    /// (naming the file as <paramref name="shownAs"/>, never quoting its content) or null.
    /// </summary>
    public static string? ReadLines(string path, string shownAs, out string[] lines)
    {
        lines = [];
        byte[] data;
        try
        {
            using var stream = OpenForReading(path);
            data = ReadBounded(stream, out bool tooLarge);
            if (tooLarge) return $"the list file '{shownAs}' is larger than {MaxBytes >> 20} MiB (or endless); refused";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"cannot read the list file '{shownAs}' ({ex.GetType().Name.Replace("Exception", "")})";
        }
        lines = new UTF8Encoding(false, false).GetString(data).Split('\n');
        return null;
    }

    private static byte[] ReadBounded(Stream stream, out bool tooLarge)
    {
        using var into = new MemoryStream();
        var buffer = new byte[64 * 1024];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            into.Write(buffer, 0, n);
            if (into.Length > MaxBytes) { tooLarge = true; return []; }
        }
        tooLarge = false;
        return into.ToArray();
    }

    /// <summary>Opened without blocking: a FIFO with no writer reads as empty instead of hanging the caller.</summary>
    private static Stream OpenForReading(string path)
    {
        if (!OperatingSystem.IsLinux()) return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        const int O_RDONLY = 0, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno is 13 or 1 ? new UnauthorizedAccessException() : new FileNotFoundException();
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Directory.Exists(path)) { handle.Dispose(); throw new IOException("a directory"); }
        return new FileStream(handle, FileAccess.Read, bufferSize: 0);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);
}
