using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>Real clients of the HTTPS proxy listener: curl, HttpClient speaking HTTP/2 over it, node.js's http2 module.</summary>
public static class TlsClients
{
    /// <summary>Runs curl (bounded by --max-time and a process timeout); stdout, stderr and the exit code.</summary>
    public static async Task<(int Exit, string Out, string Err)> CurlAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])["-sS", "--max-time", "30", "--noproxy", "", .. args]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw; }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// An HttpClient whose connections are TLS to the proxy with ALPN h2, while it believes it speaks cleartext
    /// HTTP/2 to the origin: requests for http://origin/… go out as ":scheme: http", ":authority: origin" on the
    /// proxy's TLS connection — exactly what an HTTP/2 forward-proxy client (a browser with an HTTPS proxy) sends.
    /// </summary>
    public static HttpClient Http2ViaProxy(int proxyPort, X509Certificate2 proxyCa) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, proxyPort), ct);
            var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = (_, cert, _, _) => IssuedBy(cert, proxyCa),
            }, ct);
            Assert.Equal(SslApplicationProtocol.Http2, tls.NegotiatedApplicationProtocol);
            return tls;
        },
    })
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>Runs a node.js script (node's http2 client) with a time limit; its stdout.</summary>
    public static async Task<string> NodeAsync(string script)
    {
        var file = Path.Combine(TempDir.Create("h2js"), "client.js");
        await File.WriteAllTextAsync(file, script);
        var psi = new ProcessStartInfo("node", file) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(true); throw; }
        Assert.True(p.ExitCode == 0, $"node exited {p.ExitCode}: {await stderr}\n{await stdout}");
        return await stdout;
    }

    /// <summary>The certificate the server at 127.0.0.1:<paramref name="port"/> presents in a new handshake.</summary>
    public static async Task<X509Certificate2> ServerCertificateAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        X509Certificate2? seen = null;
        await using var tls = new SslStream(client.GetStream(), false, (_, cert, _, _) =>
        {
            seen = cert is null ? null : new X509Certificate2(cert);
            return true;
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "127.0.0.1" }).WaitAsync(TimeSpan.FromSeconds(10));
        return seen!;
    }

    private static bool IssuedBy(X509Certificate? cert, X509Certificate2 ca)
    {
        if (cert is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(cert));
    }
}
