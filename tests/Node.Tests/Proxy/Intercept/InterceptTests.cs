using System.Text.RegularExpressions;
using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

/// <summary>A node bumping "localhost" with a test CA, in front of HTTPS origins with a CA of their own.</summary>
public sealed class InterceptFixture : IAsyncLifetime
{
    public HttpsOrigins Origins { get; private set; } = null!;
    public ProxyAuthority Ca { get; } = new();
    public TestNode Node { get; private set; } = null!;
    public string AccessLog { get; } = Path.Combine(TempDir.Create("alog"), "access.log");

    public async Task InitializeAsync()
    {
        Origins = await HttpsOrigins.StartAsync();
        Node = await TestNode.StartAsync(settings: Settings(Origins, Ca, new()
        {
            ["Intercept:Bump"] = "localhost",
            ["AccessLog:Path"] = AccessLog,
            ["AccessLog:Format"] = "json",
        }));
    }

    /// <summary>Interception on with <paramref name="ca"/>, the origins' CA trusted, CONNECT allowed to their ports.</summary>
    public static Dictionary<string, string?> Settings(HttpsOrigins origins, ProxyAuthority ca, Dictionary<string, string?> extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Proxy:ConnectPorts"] = $"443,{origins.GoodPort},{origins.ExpiredPort},{origins.WrongNamePort}",
            ["Intercept:Enabled"] = "true",
            ["Intercept:CaCertificatePath"] = ca.CertificatePath,
            ["Intercept:CaKeyPath"] = ca.KeyPath,
            ["Intercept:OriginCaPath"] = origins.Authority.CaPath,
        };
        foreach (var (k, v) in extra) settings[k] = v;
        return settings;
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Origins.DisposeAsync();
    }
}

public class InterceptTests(InterceptFixture env) : IClassFixture<InterceptFixture>
{
    private static string Unique(string path) => NodeAndOrigin.Unique(path);

    /// <summary>curl through the node, trusting only <paramref name="caFile"/>; returns headers, body and curl's TLS log.</summary>
    private static async Task<(string Head, string Body, string Verbose)> CurlAsync(Uri proxy, string url, string caFile)
    {
        var dir = TempDir.Create("curl");
        var headFile = Path.Combine(dir, "head");
        var bodyFile = Path.Combine(dir, "body");
        var psi = new System.Diagnostics.ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-sS", "-v", "--max-time", "20", "--cacert", caFile, "-x", proxy.ToString(), "-D", headFile, "-o", bodyFile, url })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        var verbose = await stderr;
        Assert.True(p.ExitCode == 0, $"curl exited {p.ExitCode}: {verbose}");
        // The head file holds the CONNECT's 200 first: keep the last response head.
        var heads = (await File.ReadAllTextAsync(headFile)).Split("\r\n\r\n", StringSplitOptions.RemoveEmptyEntries);
        return (heads[^1], await File.ReadAllTextAsync(bodyFile), verbose);
    }

    [Fact]
    public async Task A_bumped_https_url_is_fetched_once_and_then_served_from_the_cache()
    {
        var path = Unique("/page");
        var url = $"https://localhost:{env.Origins.GoodPort}{path}";
        var first = await CurlAsync(env.Node.ProxyUri, url, env.Ca.CertificatePath);
        var second = await CurlAsync(env.Node.ProxyUri, url, env.Ca.CertificatePath);

        // curl trusted only the proxy's CA, so the certificate it accepted was minted by the node for exactly this name.
        Assert.Contains("issuer: CN=Test Interception CA", first.Verbose);
        Assert.Contains("ALPN: server accepted http/1.1", first.Verbose); // curl offered h2 as well: the tunnel speaks HTTP/1.1
        Assert.Matches(@"subject: .*CN=localhost", first.Verbose);
        Assert.Contains("subjectAltName: host \"localhost\" matched cert's \"localhost\"", first.Verbose);
        Assert.Matches(@"(?im)^cache-status: CacheCluster; fwd=uri-miss; fwd-status=200; stored", first.Head);
        Assert.Matches(@"(?im)^cache-status: CacheCluster; hit; ttl=\d+", second.Head);
        Assert.Equal($"hello from localhost:{env.Origins.GoodPort} {path}\n", second.Body);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(1, env.Origins.RequestCount(path));
    }

    [Fact]
    public async Task The_cache_and_the_access_log_know_the_https_url()
    {
        var path = Unique("/logged");
        var url = $"https://localhost:{env.Origins.GoodPort}{path}";
        await CurlAsync(env.Node.ProxyUri, url, env.Ca.CertificatePath);
        await CurlAsync(env.Node.ProxyUri, url, env.Ca.CertificatePath);

        // One line per decrypted request, with the full https URL (query stripped as usual) and the bumped mark; the
        // CONNECTs themselves as Squid logs bumped ones.
        string[] lines = [];
        for (int i = 0; i < 50 && lines.Count(l => l.Contains(path.Split('?')[0])) < 2; i++)
        {
            await Task.Delay(100);
            lines = File.Exists(env.AccessLog) ? await File.ReadAllLinesAsync(env.AccessLog) : [];
        }
        var requestLines = lines.Where(l => l.Contains($"\"url\":\"https://localhost:{env.Origins.GoodPort}{path.Split('?')[0]}?\"")).ToList();
        Assert.Equal(2, requestLines.Count);
        Assert.Contains("\"squid_code\":\"TCP_MISS\"", requestLines[0]);
        Assert.True(requestLines[1].Contains("\"squid_code\":\"TCP_HIT\"") || requestLines[1].Contains("\"squid_code\":\"TCP_MEM_HIT\""), string.Join("\n", lines));
        Assert.All(requestLines, l => Assert.Contains("\"bumped\":true", l));
        Assert.Contains(lines, l => l.Contains("\"method\":\"CONNECT\"") && l.Contains("\"squid_code\":\"NONE_NONE\"") && l.Contains("\"bumped\":true"));
    }

    [Fact]
    public async Task An_unlisted_host_is_spliced_and_keeps_its_own_certificate()
    {
        // 127.0.0.1 is not in Intercept:Bump: the tunnel is untouched, so curl trusting only the origin's CA succeeds.
        var path = Unique("/spliced");
        var result = await CurlAsync(env.Node.ProxyUri, $"https://127.0.0.1:{env.Origins.GoodPort}{path}", env.Origins.Authority.CaPath);
        Assert.Contains("issuer: CN=origin-test-ca", result.Verbose);
        Assert.DoesNotMatch("(?im)^cache-status:", result.Head);
        Assert.Equal(1, env.Origins.RequestCount(path));
    }

    [Fact]
    public async Task An_origin_with_an_expired_certificate_gets_an_error_page_naming_the_reason()
    {
        var path = Unique("/expired");
        var result = await CurlAsync(env.Node.ProxyUri, $"https://localhost:{env.Origins.ExpiredPort}{path}", env.Ca.CertificatePath);
        Assert.StartsWith("HTTP/1.1 502", result.Head);
        Assert.Matches(@"^502 Bad Gateway: TLS with the origin localhost:\d+ failed: the certificate of localhost expired on \d{4}-\d\d-\d\d", result.Body);
        Assert.Equal(0, env.Origins.RequestCount(path));
    }

    [Fact]
    public async Task An_origin_with_a_certificate_for_another_name_gets_an_error_page_naming_the_reason()
    {
        var path = Unique("/wrong-name");
        var result = await CurlAsync(env.Node.ProxyUri, $"https://localhost:{env.Origins.WrongNamePort}{path}", env.Ca.CertificatePath);
        Assert.StartsWith("HTTP/1.1 502", result.Head);
        Assert.Contains("the certificate presented for localhost is not for that name (it is for elsewhere.test, 127.0.0.1)", result.Body);
        Assert.Equal(0, env.Origins.RequestCount(path));
    }

    [Fact]
    public async Task A_never_bump_host_and_a_node_with_interception_off_both_tunnel_untouched()
    {
        await using var neverBump = await TestNode.StartAsync(settings: InterceptFixture.Settings(env.Origins, new ProxyAuthority(), new()
        {
            ["Intercept:Bump"] = "*",
            ["Intercept:NeverBump"] = "localhost",
        }));
        var path = Unique("/never");
        var result = await CurlAsync(neverBump.ProxyUri, $"https://localhost:{env.Origins.GoodPort}{path}", env.Origins.Authority.CaPath);
        Assert.Contains("issuer: CN=origin-test-ca", result.Verbose);
        Assert.DoesNotMatch("(?im)^cache-status:", result.Head);

        await using var off = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:ConnectPorts"] = $"443,{env.Origins.GoodPort}",
            ["Intercept:Bump"] = "*", // listed, but Intercept:Enabled is false
        });
        var offPath = Unique("/off");
        var plain = await CurlAsync(off.ProxyUri, $"https://localhost:{env.Origins.GoodPort}{offPath}", env.Origins.Authority.CaPath);
        Assert.Contains("issuer: CN=origin-test-ca", plain.Verbose);
        Assert.Equal(1, env.Origins.RequestCount(offPath));
    }

    [Fact]
    public async Task A_request_for_another_host_inside_a_bumped_tunnel_is_refused()
    {
        var path = Unique("/other-host");
        var psiArgs = new[] { "-sS", "--http1.1", "--cacert", env.Ca.CertificatePath, "-x", env.Node.ProxyUri.ToString(),
            "-H", "Host: elsewhere.test", "-o", "-", "-w", "\n%{http_code}", $"https://localhost:{env.Origins.GoodPort}{path}" };
        var output = await Curl.RunAsync(psiArgs);
        Assert.EndsWith("\n421", output);
        Assert.Contains("intercepted for localhost:", output);
        Assert.Equal(0, env.Origins.RequestCount(path));
    }
}
