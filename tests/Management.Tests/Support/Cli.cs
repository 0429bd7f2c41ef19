using System.Diagnostics;

namespace CacheCluster.Management.Tests.Support;

/// <summary>Runs the real cachectl (src/Ctl's build output) as a process.</summary>
public static class Cli
{
    public static string Dll
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            var config = dir.Parent?.Name ?? "Debug"; // .../bin/<Configuration>/net10.0/
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) dir = dir.Parent;
            if (dir is null) throw new InvalidOperationException("Cannot find the repository root (Cluster.sln) above " + AppContext.BaseDirectory);
            return Path.Combine(dir.FullName, "src", "Ctl", "bin", config, "net10.0", "cachectl.dll");
        }
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(IEnumerable<string> args, IDictionary<string, string>? env = null, string? stdin = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("CACHECTL_ADDRESS");
        psi.Environment.Remove("CACHECTL_TOKEN");
        psi.Environment["COLUMNS"] = "200";
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null) await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException($"cachectl {string.Join(' ', args)} did not finish in 120 s"); }
        return new Result(p.ExitCode, await stdout, await stderr);
    }
}
