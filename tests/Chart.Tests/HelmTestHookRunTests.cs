using System.Diagnostics;
using CacheCluster.Chart.Tests.Support;
using CacheCluster.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests;

/// <summary>
/// The `helm test` pod's script, as rendered, run for real: busybox (the image's sh, wget and httpd) against a
/// real node on loopback standing in for the proxy Service, the pod's address being 127.0.0.1.
/// </summary>
public class HelmTestHookRunTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task The_rendered_helm_test_passes_against_a_real_node_and_fails_without_one(bool proxyAuth, bool credentials)
    {
        string[] values = (proxyAuth, credentials) switch
        {
            (false, _) => [],
            (true, false) => ["--set", "auth.existingSecret=users"],
            (true, true) => ["--set", "auth.existingSecret=users", "--set", "tests.credentialsSecret=proxy-test-user"],
        };
        var pod = Helm.Template(values)
            .OfKind("Pod").Single(p => p.Path("metadata", "annotations").Str("helm.sh/hook") == "test");
        var container = pod.Path("spec").Seq("containers").Cast<YamlMappingNode>().Single();
        var script = ((YamlScalarNode)container.Seq("args")[0]).Value!;

        var work = TempDir.Create("helm-test-hook");
        var extra = new List<string>();
        if (proxyAuth)
        {
            var htpasswd = Path.Combine(work, "htpasswd");
            File.WriteAllText(htpasswd, "alice:" + BCrypt.Net.BCrypt.HashPassword("alice-password", 5).Replace("$2a$", "$2y$") + "\n");
            extra.Add("--Auth:HtpasswdFile=" + htpasswd);
        }
        var proxyPort = Ports.Free();
        await using (var node = await NodeProcess.StartAsync(Path.Combine(work, "data"), proxyPort, extra))
        {
            var (code, output) = RunScript(script, work, $"127.0.0.1:{proxyPort}", credentials);
            Assert.True(code == 0, $"the helm test script failed ({code}):\n{output}\nnode:\n{node.Output}");
            if (proxyAuth && !credentials) Assert.Contains("OK: 407", output);
            else
            {
                Assert.Contains("Via: 1.1 test-node", output, StringComparison.OrdinalIgnoreCase);
                Assert.EndsWith("OK", output.TrimEnd());
            }
        }
        // The check has teeth: with nothing listening there the same script fails.
        var (failed, failedOutput) = RunScript(script, work, $"127.0.0.1:{proxyPort}", credentials);
        Assert.True(failed != 0, failedOutput);
    }

    [Fact]
    public async Task A_release_installed_with_no_values_starts_and_passes_its_helm_test()
    {
        // The node runs with exactly the rendered settings (listeners on 0.0.0.0, fixed ports) inside a network
        // namespace of its own, where 0.0.0.0 is only a fresh loopback; the hook script runs in the same namespace.
        var m = Helm.Template();
        var node = RenderedNode.From(m);
        node.Load(out _);
        var work = TempDir.Create("helm-default-release");
        node.Loaded["Store:Directory"] = Path.Combine(work, "data"); // the pod's /data volume
        var hook = m.OfKind("Pod").Single(p => p.Path("metadata", "annotations").Str("helm.sh/hook") == "test");
        var script = ((YamlScalarNode)hook.Path("spec").Seq("containers").Cast<YamlMappingNode>().Single().Seq("args")[0]).Value!;
        var bin = BusyboxBin(work);

        var psi = new ProcessStartInfo("unshare") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-n", "bash", "-c", """
            set -u
            ip link set lo up
            dotnet "$NODE_DLL" >"$WORKDIR/node.log" 2>&1 & node=$!
            trap 'kill $node 2>/dev/null; wait $node' EXIT
            for i in $(seq 1 120); do "$BIN/wget" -q -O /dev/null http://127.0.0.1:3128/proxy.pac 2>/dev/null && break; sleep 0.5; done
            PATH="$BIN" sh -c "$HOOK"; code=$?
            [ $code -eq 0 ] || cat "$WORKDIR/node.log"
            exit $code
            """ }) psi.ArgumentList.Add(a);
        foreach (var (key, value) in node.Loaded) psi.Environment[key.Replace(":", "__")] = value;
        foreach (var v in new[] { "http_proxy", "HTTP_PROXY", "https_proxy", "no_proxy", "NO_PROXY" }) psi.Environment.Remove(v);
        psi.Environment["NODE_DLL"] = NodeProcess.NodeDll;
        psi.Environment["BIN"] = bin;
        psi.Environment["HOOK"] = script;
        psi.Environment["PROXY"] = "127.0.0.1:3128"; // the Service's port maps to the same container port by default
        psi.Environment["POD_IP"] = "127.0.0.1";
        psi.Environment["ORIGIN_PORT"] = "8080";
        psi.Environment["WORKDIR"] = work;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120))) { p.Kill(true); throw new TimeoutException("the default release did not finish its helm test in 120 s"); }
        var output = await stdout + await stderr;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}:\n{output}");
        // Proxy:ViaName defaults to the host name: the pod name in Kubernetes, this machine here.
        Assert.Contains($"Via: 1.1 {Environment.MachineName}", output, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith("OK", output.TrimEnd());
        Assert.Contains("Localhost clustering", File.ReadAllText(Path.Combine(work, "node.log")));
    }

    private static string BusyboxBin(string work)
    {
        var busybox = new[] { "/usr/bin/busybox", "/bin/busybox" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("busybox is needed to run the helm test script (apt-get install busybox; .ci/run installs it)");
        // Only busybox's applets on PATH, as in the busybox image.
        var bin = Directory.CreateDirectory(Path.Combine(work, "bin")).FullName;
        foreach (var applet in new[] { "sh", "wget", "httpd", "grep", "mkdir", "cat", "sleep", "kill", "echo", "timeout" })
            if (!File.Exists(Path.Combine(bin, applet))) File.CreateSymbolicLink(Path.Combine(bin, applet), busybox);
        return bin;
    }

    private static (int Code, string Output) RunScript(string script, string work, string proxy, bool credentials)
    {
        var bin = BusyboxBin(work);
        var dir = Directory.CreateTempSubdirectory("hook-").FullName;
        var psi = new ProcessStartInfo(Path.Combine(bin, "sh")) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var v in new[] { "http_proxy", "HTTP_PROXY", "https_proxy", "no_proxy", "NO_PROXY" }) psi.Environment.Remove(v);
        psi.Environment["PATH"] = bin;
        psi.Environment["PROXY"] = proxy;
        psi.Environment["POD_IP"] = "127.0.0.1";
        psi.Environment["ORIGIN_PORT"] = Ports.Free().ToString();
        psi.Environment["WORKDIR"] = dir;
        if (credentials) { psi.Environment["PROXY_USER"] = "alice"; psi.Environment["PROXY_PASSWORD"] = "alice-password"; }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException("the helm test script did not finish in 60 s"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
