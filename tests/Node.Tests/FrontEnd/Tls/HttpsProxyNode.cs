using CacheCluster.Node.FrontEnd.Tls;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>
/// One node with a plain and an HTTPS proxy listener (certificate from a test CA made at run time, valid for
/// www.example.test and 127.0.0.1), a reverse-proxy site, an access rule and an access log; one origin with
/// HTTP and HTTPS. Shared by the tests of a class, each using its own URLs.
/// </summary>
public sealed class HttpsProxyNode : IAsyncLifetime
{
    public const string Site = "www.example.test";
    public TestCertificates Certificates { get; } = TestCertificates.CreateAuthority("proxy-test-ca");
    public TestNode Node { get; private set; } = null!;
    public OriginServer Origin { get; private set; } = null!;
    public int HttpsPort { get; private set; }
    public string AccessLog { get; } = Path.Combine(TempDir.Create("alog"), "access.log");
    /// <summary>The origin's self-signed certificate as PEM, for curl --cacert through a CONNECT tunnel.</summary>
    public string OriginCaPath { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Origin = await OriginServer.StartAsync(new OriginOptions { EnableHttps = true });
        OriginCaPath = Path.Combine(Certificates.Directory, "origin.crt");
        await File.WriteAllTextAsync(OriginCaPath, Origin.Certificate!.ExportCertificatePem());
        var (cert, key) = Certificates.Issue(Site);
        Node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Proxy:HttpsListen"] = "127.0.0.1:0",
            ["Proxy:Tls:CertificatePath"] = cert,
            ["Proxy:Tls:KeyPath"] = key,
            ["Proxy:ConnectPorts"] = $"443,{Origin.HttpsBase!.Port},{Origin.HttpBase.Port}",
            [$"Proxy:Sites:{Site}"] = Origin.HttpBase.ToString(),
            ["Access:Rules:0"] = "deny name=no-games dstdomain=.games.test",
            ["Access:Rules:1"] = "allow name=local src=127.0.0.0/8",
            ["AccessLog:Path"] = AccessLog,
        });
        HttpsPort = Node.Services.GetRequiredService<HttpsProxyAddresses>().EndPoints.Single().Port;
    }

    public string ProxyUrl => $"https://127.0.0.1:{HttpsPort}";

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Origin.DisposeAsync();
    }
}
