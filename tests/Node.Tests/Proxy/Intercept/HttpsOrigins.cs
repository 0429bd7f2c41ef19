using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

/// <summary>
/// HTTPS origins for interception tests, with a CA of their own made at run time (the proxy trusts it through
/// Intercept:OriginCaPath, curl through --cacert): a good certificate (localhost, 127.0.0.1), an expired one and
/// one for another name, each on its own 127.0.0.1 port. Every response may be cached for an hour.
/// </summary>
public sealed class HttpsOrigins : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _requests = new();

    public TestCertificates Authority { get; }
    public int GoodPort { get; private set; }
    public int ExpiredPort { get; private set; }
    public int WrongNamePort { get; private set; }

    private HttpsOrigins(TestCertificates authority, WebApplication app)
    {
        Authority = authority;
        _app = app;
    }

    public static async Task<HttpsOrigins> StartAsync()
    {
        var ca = TestCertificates.CreateAuthority("origin-test-ca");
        X509Certificate2 Load((string Cert, string Key) paths) =>
            X509Certificate2.CreateFromPemFile(paths.Cert, paths.Key);
        var good = Load(ca.Issue("localhost"));
        var expired = Load(ca.Issue("localhost", notAfter: DateTimeOffset.UtcNow.AddMinutes(-1)));
        var wrongName = Load(ca.Issue("elsewhere.test"));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(good));
            k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(expired));
            k.Listen(IPAddress.Loopback, 0, l => l.UseHttps(wrongName));
        });
        var app = builder.Build();
        var origins = new HttpsOrigins(ca, app);
        app.Run(async ctx =>
        {
            var path = ctx.Request.Path + ctx.Request.QueryString;
            origins._requests.AddOrUpdate(path.ToString(), 1, (_, n) => n + 1);
            ctx.Response.Headers.CacheControl = "max-age=3600";
            ctx.Response.ContentType = "text/plain";
            await ctx.Response.WriteAsync($"hello from {ctx.Request.Host} {path}\n");
        });
        await app.StartAsync();
        var ports = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).ToArray();
        (origins.GoodPort, origins.ExpiredPort, origins.WrongNamePort) = (ports[0], ports[1], ports[2]);
        return origins;
    }

    public int RequestCount(string pathAndQuery) => _requests.TryGetValue(pathAndQuery, out var n) ? n : 0;

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>The operator's interception CA, as `cachectl ca create` makes it: PEM certificate and key files.</summary>
public sealed class ProxyAuthority
{
    public string CertificatePath { get; }
    public string KeyPath { get; }
    public X509Certificate2 Certificate { get; }

    public ProxyAuthority(string name = "Test Interception CA")
    {
        var dir = TempDir.Create("proxy-ca");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        CertificatePath = Path.Combine(dir, "ca.crt");
        KeyPath = Path.Combine(dir, "ca.key");
        File.WriteAllText(CertificatePath, Certificate.ExportCertificatePem());
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
    }
}
