using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy;

/// <summary>
/// apt as the real client, through a default node, against a mirror that sends no freshness and no validators
/// (issue 14): the second download of a package is served from the cache; the index is fetched again on every
/// `apt-get update` (revalidated on every use by the shipped package rules).
/// </summary>
public class PackageCachingTests
{
    [SkippableFact]
    public async Task Apt_downloads_a_package_from_the_cache_the_second_time_and_revalidates_the_index()
    {
        Skip.If(!File.Exists("/usr/bin/apt-get") || !File.Exists("/usr/bin/dpkg-deb"), "apt-get and dpkg-deb are needed (Debian's apt and dpkg packages)");
        var root = TempDir.Create("mirror");
        var repo = Path.Combine(root, "debian");
        Directory.CreateDirectory(repo);
        var deb = await BuildPackageAsync(repo, "cc-hello", "1.0");
        await WriteIndexAsync(repo, deb, "cc-hello", "1.0");

        await using var mirror = await PackageMirror.StartAsync(root);
        await using var node = await TestNode.StartAsync(); // default settings: package rules on
        var apt = new AptClient(TempDir.Create("apt"), new Uri(mirror.BaseUri, "debian/"), node.ProxyUri);

        var expected = Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(deb)));
        var downloaded = Path.Combine(apt.WorkDir, "cc-hello_1.0_all.deb");
        for (int round = 1; round <= 2; round++)
        {
            await apt.RunAsync("update");
            var output = await apt.RunAsync("download", "cc-hello");
            Assert.True(File.Exists(downloaded), $"round {round}: apt-get download wrote no file:\n{output}");
            Assert.Equal(expected, Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(downloaded))));
            File.Delete(downloaded); // else apt keeps the file it has and asks nobody
        }
        var seen = string.Join(", ", mirror.AllRequests.Select(kv => $"{kv.Key}={kv.Value}"));
        // The package came from the origin once: the second download was a hit.
        Assert.True(mirror.Requests("/debian/cc-hello_1.0_all.deb") == 1, $"mirror saw: {seen}");
        // The index was asked for again by the second update: nothing is served that the mirror might have changed.
        Assert.True(mirror.Requests("/debian/Release") == 2, $"mirror saw: {seen}");
    }

    private static async Task<string> BuildPackageAsync(string repo, string name, string version)
    {
        var tree = TempDir.Create("pkg");
        Directory.CreateDirectory(Path.Combine(tree, "DEBIAN"));
        Directory.CreateDirectory(Path.Combine(tree, "usr/share/cc-hello"));
        await File.WriteAllTextAsync(Path.Combine(tree, "DEBIAN/control"),
            $"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Tests <tests@example.org>\nDescription: a package for the cache tests\n");
        // Incompressible payload, a few chunks long, so the cached body is really streamed from the store.
        await File.WriteAllBytesAsync(Path.Combine(tree, "usr/share/cc-hello/payload.bin"), RandomNumberGenerator.GetBytes(300_000));
        var deb = Path.Combine(repo, $"{name}_{version}_all.deb");
        await Run("dpkg-deb", ["--build", "--root-owner-group", "-Zgzip", tree, deb], Environment.CurrentDirectory);
        return deb;
    }

    private static async Task WriteIndexAsync(string repo, string deb, string name, string version)
    {
        var bytes = await File.ReadAllBytesAsync(deb);
        var packages = $"Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: Tests <tests@example.org>\n" +
            $"Filename: ./{Path.GetFileName(deb)}\nSize: {bytes.Length}\nSHA256: {Convert.ToHexStringLower(SHA256.HashData(bytes))}\n" +
            "Description: a package for the cache tests\n\n";
        var packagesBytes = Encoding.ASCII.GetBytes(packages);
        await File.WriteAllBytesAsync(Path.Combine(repo, "Packages"), packagesBytes);
        var release = $"Origin: cc-tests\nLabel: cc-tests\nDate: {DateTime.UtcNow:ddd, dd MMM yyyy HH:mm:ss} UTC\nSHA256:\n" +
            $" {Convert.ToHexStringLower(SHA256.HashData(packagesBytes))} {packagesBytes.Length} Packages\n";
        await File.WriteAllTextAsync(Path.Combine(repo, "Release"), release);
    }

    internal static async Task<string> Run(string file, IEnumerable<string> args, string workDir)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(cts.Token);
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {p.ExitCode}:\n{output}");
        return output;
    }

    /// <summary>apt-get with its own state, cache and sources in a folder: the machine's apt is not touched.</summary>
    private sealed class AptClient
    {
        private readonly string _dir;
        private readonly Uri _proxy;

        public AptClient(string dir, Uri repo, Uri proxy)
        {
            _dir = dir;
            _proxy = proxy;
            foreach (var d in new[] { "state/lists/partial", "cache/archives/partial", "parts", "prefs", "work" })
                Directory.CreateDirectory(Path.Combine(dir, d));
            File.WriteAllText(Path.Combine(dir, "status"), "");
            File.WriteAllText(Path.Combine(dir, "sources.list"), $"deb [trusted=yes] {repo} ./\n");
        }

        public string WorkDir => Path.Combine(_dir, "work");

        public Task<string> RunAsync(params string[] command) => Run("apt-get",
        [
            "-q", "-y",
            $"-o=Dir::Etc::SourceList={_dir}/sources.list", $"-o=Dir::Etc::SourceParts={_dir}/parts",
            $"-o=Dir::Etc::Preferences={_dir}/prefs/none", $"-o=Dir::Etc::PreferencesParts={_dir}/prefs",
            $"-o=Dir::State={_dir}/state", $"-o=Dir::State::status={_dir}/status", $"-o=Dir::Cache={_dir}/cache",
            "-o=Debug::NoLocking=1", "-o=APT::Sandbox::User=root", "-o=Acquire::Languages=none",
            "-o=Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
            $"-o=Acquire::http::Proxy={_proxy}",
            .. command,
        ], WorkDir);
    }
}
