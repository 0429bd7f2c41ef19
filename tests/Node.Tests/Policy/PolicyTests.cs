using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CacheCluster.Node.Policy;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.Policy;

/// <summary>
/// A node with a campus-like policy: access rules with users and groups, proxy authentication from a bcrypt
/// htpasswd file, a hosts file (names for the loopback origin, one for the cloud metadata address, one private),
/// private destinations refused, X-Forwarded-For truncated, identifying headers stripped, no Via upstream.
/// </summary>
public sealed class PolicyNode : IAsyncLifetime
{
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public string Htpasswd { get; private set; } = null!;
    public int Port => Origin.HttpBase.Port;

    public static string Hash(string password) => BCrypt.Net.BCrypt.HashPassword(password, 5).Replace("$2a$", "$2y$"); // as htpasswd -B writes

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync();
        var dir = TempDir.Create("policy");
        Htpasswd = Path.Combine(dir, "htpasswd");
        File.WriteAllText(Htpasswd, $"# users\nalice:{Hash("alice-pw")}\nbob:{Hash("bob-pw")}\ndave:{Hash("dave-pw")}\nmd5user:$apr1$abc$def\n");
        var hosts = Path.Combine(dir, "hosts");
        File.WriteAllText(hosts, "127.0.0.1 allowed.test www.games.test\n169.254.169.254 metadata.test  # cloud metadata\n10.1.2.3 intranet.test\nfe80::1 linklocal6.test\n");
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Resolver:HostsFile"] = hosts,
            ["Guard:AllowPrivate"] = "false",
            ["Auth:HtpasswdFile"] = Htpasswd,
            ["Auth:Required"] = "false",
            ["Auth:Groups:staff"] = "alice",
            ["Access:Rules:0"] = "deny name=no-games dstdomain=.games.test",
            ["Access:Rules:1"] = @"allow name=anonymous-bytes src=127.0.0.0/8 dstdomain=allowed.test method=GET,HEAD url_regex=^http://allowed\.test:\d+/bytes/",
            ["Access:Rules:2"] = "allow name=staff group=staff",
            ["Access:Rules:3"] = "deny name=bob-no-post proxy_auth=bob method=POST",
            ["Access:Rules:4"] = "allow name=users proxy_auth=*",
            ["Privacy:XForwardedFor"] = "Truncate",
            ["Privacy:StripRequestHeaders"] = "X-Client-Id,From",
            ["Privacy:Via"] = "false",
            ["Limits:UserRequestsPerSecond"] = "20",
            ["Limits:UserBurst"] = "20",
            ["Proxy:OriginTimeout"] = "5s",
            ["Proxy:ConnectTimeout"] = "3s",
        });
    }

    public HttpClient Client(string? user = null, string? password = null)
    {
        var c = Node.CreateClient(TimeSpan.FromSeconds(30));
        if (user is not null)
            c.DefaultRequestHeaders.ProxyAuthorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return c;
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }
}

public class PolicyTests(PolicyNode env) : IClassFixture<PolicyNode>
{
    private string Url(string host, string path) => $"http://{host}:{env.Port}{path}";

    [Fact]
    public async Task Anonymous_clients_get_what_an_anonymous_rule_allows_and_a_challenge_for_the_rest()
    {
        using var anon = env.Client();
        var path = NodeAndOrigin.Unique("/bytes/1k");
        using var ok = await anon.GetAsync(Url("allowed.test", path));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(OriginContent.Expected(path), await ok.Content.ReadAsByteArrayAsync());

        using var echo = await anon.GetAsync(Url("allowed.test", "/echo"));
        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, echo.StatusCode);
        Assert.Equal("Basic", echo.Headers.ProxyAuthenticate.Single().Scheme);
        Assert.Contains("realm=\"CacheCluster proxy\"", echo.Headers.ProxyAuthenticate.Single().ToString());
        Assert.Contains("'staff' needs a proxy user", await echo.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_denied_request_gets_403_naming_the_rule_and_never_reaches_the_origin()
    {
        using var alice = env.Client("alice", "alice-pw");
        var path = NodeAndOrigin.Unique("/bytes/1k");
        using var r = await alice.GetAsync(Url("www.games.test", path));
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Equal("403 Forbidden: access denied by rule 'no-games'\n", await r.Content.ReadAsStringAsync());
        Assert.Equal(0, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Users_and_groups_decide_and_credentials_never_go_upstream()
    {
        using var alice = env.Client("alice", "alice-pw");
        using var bob = env.Client("bob", "bob-pw");
        var path = NodeAndOrigin.Unique("/echo");

        using var alicePost = await alice.PostAsync(Url("allowed.test", path), new StringContent("hi"));
        Assert.Equal(HttpStatusCode.OK, alicePost.StatusCode);
        using var bobPost = await bob.PostAsync(Url("allowed.test", path), new StringContent("hi"));
        Assert.Equal(HttpStatusCode.Forbidden, bobPost.StatusCode);
        Assert.Contains("'bob-no-post'", await bobPost.Content.ReadAsStringAsync());
        using var bobGet = await bob.GetAsync(Url("allowed.test", path));
        Assert.Equal(HttpStatusCode.OK, bobGet.StatusCode);

        var seen = env.Origin.RequestsFor(path);
        Assert.Equal(2, seen.Count); // alice's POST and bob's GET
        Assert.All(seen, s => Assert.False(s.HasHeader("Proxy-Authorization")));
    }

    [Fact]
    public async Task Wrong_or_malformed_credentials_get_407()
    {
        foreach (var (user, pw) in new[] { ("alice", "wrong"), ("mallory", "x"), ("md5user", "whatever") })
        {
            using var c = env.Client(user, pw);
            using var r = await c.GetAsync(Url("allowed.test", "/echo"));
            Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, r.StatusCode);
            Assert.Contains("not valid", await r.Content.ReadAsStringAsync());
        }
        var raw = await RawHttp.SendAsync(env.Node.ProxyPort,
            $"GET http://allowed.test:{env.Port}/echo HTTP/1.1\r\nHost: allowed.test\r\nProxy-Authorization: Basic !!notbase64!!\r\n\r\n");
        Assert.Equal(407, raw.Status);
        Assert.Contains("Proxy-Authenticate: Basic realm=", raw.Head);
    }

    [Fact]
    public async Task The_htpasswd_file_is_reloaded_when_it_changes()
    {
        using var carol = env.Client("carol", "carol-pw");
        using (var before = await carol.GetAsync(Url("allowed.test", "/echo")))
            Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, before.StatusCode);

        var original = await File.ReadAllTextAsync(env.Htpasswd);
        try
        {
            await File.WriteAllTextAsync(env.Htpasswd, original + $"carol:{PolicyNode.Hash("carol-pw")}\n");
            var status = HttpStatusCode.ProxyAuthenticationRequired;
            for (var deadline = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < deadline && status != HttpStatusCode.OK;)
            {
                await Task.Delay(300);
                using var r = await carol.GetAsync(Url("allowed.test", "/echo"));
                status = r.StatusCode;
            }
            Assert.Equal(HttpStatusCode.OK, status);
        }
        finally
        {
            await File.WriteAllTextAsync(env.Htpasswd, original);
            File.SetLastWriteTimeUtc(env.Htpasswd, DateTime.UtcNow.AddSeconds(5));
        }
    }

    [Theory]
    [InlineData("metadata.test", "'metadata.test' resolves to 169.254.169.254, which is refused: link-local")]
    [InlineData("169.254.169.254", "169.254.169.254:80 is refused: link-local")]
    [InlineData("[fe80::1]", "fe80::1]:80 is refused: link-local")]
    [InlineData("linklocal6.test", "'linklocal6.test' resolves to fe80::1, which is refused: link-local")]
    [InlineData("intranet.test", "resolves to 10.1.2.3, which is refused: private-range destinations are refused (Guard:AllowPrivate)")]
    [InlineData("100.100.100.200", "cloud metadata addresses are never reached")]
    [InlineData("2852039166", "169.254.169.254")]            // the same address written as one decimal number
    [InlineData("0xA9FEA9FE", "169.254.169.254")]            // … in hex
    [InlineData("[::ffff:169.254.169.254]", "link-local")]   // IPv4-mapped IPv6
    [InlineData("[64:ff9b::a9fe:a9fe]", "link-local")]       // NAT64
    public async Task The_ssrf_guard_refuses_by_resolved_address(string host, string expected)
    {
        using var alice = env.Client("alice", "alice-pw");
        using var r = await alice.GetAsync($"http://{host}/latest/meta-data/");
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        var body = await r.Content.ReadAsStringAsync();
        Assert.Contains(expected.Replace("fe80::1]:80", "fe80::1:80"), body.Replace("[fe80::1]", "fe80::1"));
    }

    [Fact]
    public async Task The_ssrf_guard_covers_connect_tunnels()
    {
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:alice-pw"));
        var r = await RawHttp.SendAsync(env.Node.ProxyPort, $"CONNECT metadata.test:443 HTTP/1.1\r\nHost: metadata.test:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n");
        Assert.Equal(403, r.Status);
        Assert.Contains("resolves to 169.254.169.254", r.Head);
    }

    [Fact]
    public async Task The_node_never_connects_to_its_own_listeners_and_detects_loops_by_via()
    {
        using var alice = env.Client("alice", "alice-pw");
        using var self = await alice.GetAsync($"http://127.0.0.1:{env.Node.ProxyPort}/anything");
        Assert.Equal(HttpStatusCode.Forbidden, self.StatusCode);
        Assert.Contains("this proxy node's own listener", await self.Content.ReadAsStringAsync());
        using var silo = await alice.GetAsync($"http://127.0.0.1:{env.Node.SiloPort}/");
        Assert.Equal(HttpStatusCode.Forbidden, silo.StatusCode);
        // The management port (gRPC, /metrics) is never reachable through the proxy, though loopback is allowed.
        var management = env.Node.Services.GetRequiredService<CacheCluster.Node.Management.ManagementAddresses>().Uris[0];
        using var metrics = await alice.GetAsync($"http://127.0.0.1:{management.Port}/metrics");
        Assert.Equal(HttpStatusCode.Forbidden, metrics.StatusCode);
        Assert.Contains("this proxy node's own listener", await metrics.Content.ReadAsStringAsync());

        var path = NodeAndOrigin.Unique("/echo");
        using var req = new HttpRequestMessage(HttpMethod.Get, Url("allowed.test", path));
        req.Headers.TryAddWithoutValidation("Via", "1.1 upstream-cache, 1.1 test-node (CacheCluster)");
        using var loop = await alice.SendAsync(req);
        Assert.Equal(HttpStatusCode.LoopDetected, loop.StatusCode);
        Assert.Equal(0, env.Origin.RequestCount(path));
    }

    [Fact]
    public async Task Privacy_truncates_x_forwarded_for_strips_listed_headers_and_omits_via()
    {
        using var alice = env.Client("alice", "alice-pw");
        var path = NodeAndOrigin.Unique("/echo");
        using var req = new HttpRequestMessage(HttpMethod.Get, Url("allowed.test", path));
        req.Headers.TryAddWithoutValidation("X-Forwarded-For", "192.0.2.44");
        req.Headers.TryAddWithoutValidation("X-Client-Id", "laptop-1234");
        req.Headers.TryAddWithoutValidation("From", "alice@campus.test");
        req.Headers.TryAddWithoutValidation("X-Kept", "yes");
        using var r = await alice.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        var seen = env.Origin.RequestsFor(path).Single();
        Assert.Equal("127.0.0.0", seen.Header("X-Forwarded-For"));
        Assert.False(seen.HasHeader("X-Client-Id"));
        Assert.False(seen.HasHeader("From"));
        Assert.False(seen.HasHeader("Via"));
        Assert.Equal("yes", seen.Header("X-Kept"));
    }

    [Fact]
    public async Task A_user_over_their_request_rate_gets_429()
    {
        using var dave = env.Client("dave", "dave-pw");
        var tasks = Enumerable.Range(0, 100).Select(async _ =>
        {
            using var r = await dave.GetAsync(Url("allowed.test", "/status/204"));
            return (r.StatusCode, r.Headers.RetryAfter?.Delta, await r.Content.ReadAsStringAsync());
        });
        var results = await Task.WhenAll(tasks);
        Assert.Contains(results, r => r.StatusCode == HttpStatusCode.NoContent);
        var limited = results.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(limited);
        Assert.All(limited, r => Assert.Contains("too many requests for user 'dave'", r.Item3));
        Assert.All(limited, r => Assert.True(r.Delta >= TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task Rules_replaced_at_run_time_apply_to_the_next_request()
    {
        var policy = env.Node.Services.GetRequiredService<AccessPolicy>();
        var original = policy.Current.Lines;
        using var alice = env.Client("alice", "alice-pw");
        try
        {
            Assert.NotEmpty(policy.Replace(["deny name=broken port=0"])); // rejected: nothing changes
            using (var still = await alice.GetAsync(Url("allowed.test", "/echo")))
                Assert.Equal(HttpStatusCode.OK, still.StatusCode);

            Assert.Empty(policy.Replace(["deny name=maintenance dstdomain=allowed.test", "allow name=others all"]));
            using var denied = await alice.GetAsync(Url("allowed.test", "/echo"));
            Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Contains("'maintenance'", await denied.Content.ReadAsStringAsync());
        }
        finally
        {
            Assert.Empty(policy.Replace(original));
        }
        using var back = await alice.GetAsync(Url("allowed.test", "/echo"));
        Assert.Equal(HttpStatusCode.OK, back.StatusCode);
    }
}
