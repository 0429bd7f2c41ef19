using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using CacheCluster.Node.Tests.Support;
using Grpc.Core;
using Grpc.Net.Client;

namespace CacheCluster.Management.Tests;

/// <summary>Management:Tls: the same port speaks TLS, gRPC over h2 (ALPN) and HTTP/1.1 for the probes.</summary>
public class TlsTests
{
    [Fact]
    public async Task Grpc_and_health_work_over_tls_with_the_configured_certificate()
    {
        var dir = TempDir.Create("tls");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(dir, "cert.pem"), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "key.pem"), key.ExportPkcs8PrivateKeyPem());

        await using var node = await TestNode.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Management:Tls:CertificatePath"] = Path.Combine(dir, "cert.pem"),
            ["Management:Tls:KeyPath"] = Path.Combine(dir, "key.pem"),
            ["Management:Token"] = ManagedCluster.Token,
        });
        var uri = ManagedCluster.ManagementUri(node);
        Assert.Equal("https", uri.Scheme);
        bool Trusted(X509Certificate2? presented) => presented?.Thumbprint == cert.Thumbprint;

        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, c, _, _) => Trusted(c as X509Certificate2);
        using var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler });
        var client = new CacheManagement.CacheManagementClient(channel);
        var status = await client.GetClusterStatusAsync(new ClusterStatusRequest(), ManagedCluster.Call);
        Assert.Equal("Active", Assert.Single(status.Nodes).State);
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await client.GetClusterStatusAsync(new ClusterStatusRequest()));
        Assert.Equal(StatusCode.Unauthenticated, denied.StatusCode);

        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => Trusted(c as X509Certificate2) },
        });
        using var ready = await http.GetAsync(new Uri(uri, "/healthz/ready"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        var cli = await Cli.RunAsync(["status", "--json", "--insecure", "--address", uri.ToString(), "--token", ManagedCluster.Token]);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
    }
}
