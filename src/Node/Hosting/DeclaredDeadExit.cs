using System.Runtime.InteropServices;
using Orleans.Runtime;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// What the node does when Orleans gives up on it — above all when the cluster declared it dead (its peers could
/// not reach it for a while): it cannot take part any more and must start again as a new member. Orleans' own
/// handler aborts the process with a stack dump (exit 134); this one says what happened in one line an operator can
/// act on and exits at once with <see cref="ExitCode"/>, as abruptly (nothing half-done is flushed; the store
/// recovers its last checkpoint on the next start) but without the dump. A supervisor (kubelet, systemd) starts it again.
/// </summary>
public sealed class DeclaredDeadExit : IFatalErrorHandler
{
    /// <summary>EX_TEMPFAIL: start again and it will work.</summary>
    public const int ExitCode = 75;

    public bool IsUnexpected(Exception exception) => true;

    public void OnFatalException(object? sender = null, string? context = null, Exception? exception = null)
    {
        var declaredDead = context?.Contains("dead", StringComparison.OrdinalIgnoreCase) == true;
        var what = declaredDead
            ? "the cluster declared this node dead (its peers could not reach it); it leaves now and rejoins as a new member with its store when started again"
            : $"Orleans stopped this node on a fatal error ({context ?? "no context"}{(exception is null ? "" : $": {exception.GetType().Name}: {exception.Message}")})";
        // Straight to stderr: the console logger writes from a queue that an immediate exit would not drain.
        Console.Error.WriteLine($"crit: CacheCluster.Node[0]\n      Exiting (code {ExitCode}): {what}");
        Console.Error.Flush();
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) Exit(ExitCode);
        Environment.FailFast(what);
    }

    // _exit(2): no managed shutdown (the silo is already unusable; a graceful stop could hang on it), no core dump.
    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);
}
