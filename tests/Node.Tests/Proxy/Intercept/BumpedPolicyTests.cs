using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

/// <summary>Access rules see a bumped request's full https:// URL, path included (what interception is for).</summary>
public class BumpedPolicyTests
{
    [Fact]
    public async Task A_url_rule_blocks_one_path_of_a_bumped_host_and_lets_the_others_through()
    {
        await using var origins = await HttpsOrigins.StartAsync();
        var ca = new ProxyAuthority();
        await using var node = await TestNode.StartAsync(settings: InterceptFixture.Settings(origins, ca, new()
        {
            ["Intercept:Bump"] = "localhost",
            ["Access:Rules:0"] = "deny name=no-games url_regex=^https://localhost:\\d+/games/",
            ["Access:Rules:1"] = "allow name=local src=127.0.0.0/8",
        }));

        var blocked = NodeAndOrigin.Unique("/games/chess");
        var output = await Curl.RunAsync("-sS", "--cacert", ca.CertificatePath, "-x", node.ProxyUri.ToString(), "-o", "-", "-w", "\n%{http_code}",
            $"https://localhost:{origins.GoodPort}{blocked}");
        Assert.EndsWith("\n403", output);
        Assert.Contains("access denied by rule 'no-games'", output);
        Assert.Equal(0, origins.RequestCount(blocked));

        var allowed = NodeAndOrigin.Unique("/lessons/maths");
        var ok = await Curl.RunAsync("-sS", "--cacert", ca.CertificatePath, "-x", node.ProxyUri.ToString(), "-o", "/dev/null", "-w", "%{http_code}",
            $"https://localhost:{origins.GoodPort}{allowed}");
        Assert.Equal("200", ok);
        Assert.Equal(1, origins.RequestCount(allowed));
    }

    [Fact]
    public async Task Requests_in_a_bumped_tunnel_inherit_the_proxy_user_who_opened_it()
    {
        await using var origins = await HttpsOrigins.StartAsync();
        var ca = new ProxyAuthority();
        var dir = TempDir.Create("bump-auth");
        var htpasswd = Path.Combine(dir, "htpasswd");
        File.WriteAllText(htpasswd, $"alice:{CacheCluster.Node.Tests.Policy.PolicyNode.Hash("alice-pw")}\n");
        var log = Path.Combine(dir, "access.log");
        await using var node = await TestNode.StartAsync(settings: InterceptFixture.Settings(origins, ca, new()
        {
            ["Intercept:Bump"] = "localhost",
            ["Auth:HtpasswdFile"] = htpasswd,
            ["Auth:Required"] = "true",
            ["Access:Rules:0"] = "allow name=users proxy_auth=*",
            ["AccessLog:Path"] = log,
            ["AccessLog:Format"] = "json",
        }));

        var path = NodeAndOrigin.Unique("/private");
        var code = await Curl.RunAsync("-sS", "--cacert", ca.CertificatePath, "-x", node.ProxyUri.ToString(), "--proxy-user", "alice:alice-pw",
            "-o", "/dev/null", "-w", "%{http_code}", $"https://localhost:{origins.GoodPort}{path}");
        Assert.Equal("200", code); // not 407: the decrypted request carries no Proxy-Authorization of its own
        Assert.Equal(1, origins.RequestCount(path));

        string[] lines = [];
        for (int i = 0; i < 50 && !lines.Any(l => l.Contains("\"method\":\"GET\"")); i++)
        {
            await Task.Delay(100);
            lines = File.Exists(log) ? await File.ReadAllLinesAsync(log) : [];
        }
        Assert.Contains(lines, l => l.Contains("\"method\":\"GET\"") && l.Contains("\"user\":\"alice\"") && l.Contains("\"bumped\":true"));
    }
}
