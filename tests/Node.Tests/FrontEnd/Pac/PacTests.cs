using System.Diagnostics;
using System.Net;
using System.Text.Json;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.Configuration;

namespace CacheCluster.Node.Tests.FrontEnd.Pac;

/// <summary>
/// /proxy.pac and /wpad.dat fetched from a real node and run by a JavaScript engine (node.js) the way a
/// browser runs them, for sample URLs.
/// </summary>
public class PacTests
{
    private const string PacType = "application/x-ns-proxy-autoconfig";

    [Fact]
    public async Task Configured_script_sends_bypassed_hosts_direct_and_the_rest_to_the_proxies()
    {
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Pac:Proxies"] = "proxy-a.campus.test:3128, proxy-b.campus.test:3128",
            ["Pac:BypassDomains:0"] = "campus.test",
            ["Pac:BypassDomains:1"] = ".intranet.test",
            ["Pac:BypassNetworks"] = "10.0.0.0/8,192.168.1.0/24",
            ["Pac:ResolveNames"] = "true",
        });
        using var http = new HttpClient();
        using var r = await http.GetAsync(new Uri(node.ProxyUri, "/proxy.pac"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(PacType, r.Content.Headers.ContentType?.MediaType);
        var script = await r.Content.ReadAsStringAsync();

        var results = await RunPacAsync(script, new() { ["printer.example.org"] = "10.1.2.3", ["www.example.org"] = "93.184.215.14" },
            "http://www.example.org/index.html", "https://www.campus.test/login", "http://campus.test/", "http://notcampus.test/",
            "http://wiki.intranet.test/page", "http://10.20.30.40:8080/x", "http://192.168.2.1/", "http://192.168.1.77/",
            "http://wiki/", "http://printer.example.org/status", "http://LOCALHOST:8080/", "http://127.0.0.1/");
        const string proxied = "PROXY proxy-a.campus.test:3128; PROXY proxy-b.campus.test:3128; DIRECT";
        Assert.Equal(proxied, results["http://www.example.org/index.html"]);
        Assert.Equal("DIRECT", results["https://www.campus.test/login"]);
        Assert.Equal("DIRECT", results["http://campus.test/"]);
        Assert.Equal(proxied, results["http://notcampus.test/"]); // a suffix match stops at a label boundary
        Assert.Equal("DIRECT", results["http://wiki.intranet.test/page"]);
        Assert.Equal("DIRECT", results["http://10.20.30.40:8080/x"]);
        Assert.Equal(proxied, results["http://192.168.2.1/"]);
        Assert.Equal("DIRECT", results["http://192.168.1.77/"]);
        Assert.Equal("DIRECT", results["http://wiki/"]); // plain host name
        Assert.Equal("DIRECT", results["http://printer.example.org/status"]); // resolves into 10/8
        Assert.Equal("DIRECT", results["http://LOCALHOST:8080/"]);
        Assert.Equal("DIRECT", results["http://127.0.0.1/"]);
    }

    [Fact]
    public async Task Without_configured_proxies_wpad_names_the_address_the_client_used()
    {
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Pac:DirectFallback"] = "false",
            ["Pac:BypassPlainHostNames"] = "false",
        });
        using var http = new HttpClient();
        using var r = await http.GetAsync(new Uri(node.ProxyUri, "/wpad.dat"));
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(PacType, r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromMinutes(5), r.Headers.CacheControl?.MaxAge);
        var results = await RunPacAsync(await r.Content.ReadAsStringAsync(), [], "http://www.example.org/", "http://wiki/");
        Assert.Equal($"PROXY 127.0.0.1:{node.ProxyPort}", results["http://www.example.org/"]);
        Assert.Equal($"PROXY 127.0.0.1:{node.ProxyPort}", results["http://wiki/"]);

        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, new Uri(node.ProxyUri, "/proxy.pac")));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(PacType, head.Content.Headers.ContentType?.MediaType);
        Assert.True(head.Content.Headers.ContentLength > 0);
    }

    [Fact]
    public async Task Proxied_requests_and_reverse_proxy_sites_for_proxy_pac_go_to_the_origin()
    {
        await using var origin = await OriginServer.StartAsync(new OriginOptions());
        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:Sites:www.example.test"] = origin.HttpBase.ToString(),
        });
        // Absolute form (a browser asking the proxy for some origin's /proxy.pac): proxied, not ours.
        using (var client = node.CreateClient())
        using (var r = await client.GetAsync(origin.Url("/proxy.pac")))
        {
            Assert.NotEqual(PacType, r.Content.Headers.ContentType?.MediaType);
            Assert.Contains("test-node", r.Headers.Via.ToString());
        }
        Assert.Equal(1, origin.RequestCount("/proxy.pac"));

        // Origin form with the Host of a reverse-proxy site: that site's own path.
        using var http = new HttpClient();
        using var req = new HttpRequestMessage(HttpMethod.Get, new Uri(node.ProxyUri, "/wpad.dat"));
        req.Headers.Host = "www.example.test";
        using (var r = await http.SendAsync(req))
            Assert.NotEqual(PacType, r.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, origin.RequestCount("/wpad.dat"));
    }

    [Theory]
    [InlineData("Pac:BypassNetworks", "fd00::/8", "Pac:BypassNetworks: 'fd00::/8': PAC scripts can only test IPv4 networks")]
    [InlineData("Pac:BypassNetworks", "10.0.0.0/33", "Pac:BypassNetworks: '10.0.0.0/33' is not a network")]
    [InlineData("Pac:Proxies", "proxy.example", "Pac:Proxies: 'proxy.example' is not host:port")]
    [InlineData("Pac:BypassDomains", "bad domain", "Pac:BypassDomains: 'bad domain' is not a domain name")]
    [InlineData("Pac:Proxys", "a:1", "Pac:Proxys: unknown setting")]
    public void Bad_pac_settings_are_reported_with_their_key(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection([KeyValuePair.Create(key, (string?)value)]).Build();
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeSettings.Load(config, "/tmp"));
        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    /// <summary>Evaluates the script with node.js for each URL; returns url -> FindProxyForURL's answer.</summary>
    private static async Task<Dictionary<string, string>> RunPacAsync(string script, Dictionary<string, string> dns, params string[] urls)
    {
        var dir = TempDir.Create("pac");
        var scriptFile = Path.Combine(dir, "proxy.pac");
        var dnsFile = Path.Combine(dir, "dns.json");
        await File.WriteAllTextAsync(scriptFile, script);
        await File.WriteAllTextAsync(dnsFile, JsonSerializer.Serialize(dns));
        var harness = Path.Combine(AppContext.BaseDirectory, "Pac", "pac-harness.js");
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { harness, scriptFile, dnsFile }.Concat(urls)) psi.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node.js is needed to evaluate PAC scripts (apt-get install nodejs): " + ex.Message);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(cts.Token);
            Assert.True(process.ExitCode == 0, $"node failed on the generated script:\n{await stderr}\n--- script ---\n{script}");
            return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonDocument.Parse(l).RootElement)
                .ToDictionary(e => e.GetProperty("url").GetString()!, e => e.GetProperty("result").GetString()!);
        }
    }
}
