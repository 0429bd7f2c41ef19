using CacheCluster.Node.Tests.Support;

namespace CacheCluster.Node.Tests.FrontEnd.Tls;

/// <summary>
/// The HTTPS proxy listener's certificate is read again when its PEM files change: new handshakes get the new
/// certificate; a bad new file keeps the old one and logs one line. A node process, so its log is what an operator reads.
/// </summary>
public class CertificateReloadTests
{
    [Fact]
    public async Task Replaced_files_are_served_on_the_next_handshake_and_a_bad_file_keeps_the_old_certificate()
    {
        var ca = TestCertificates.CreateAuthority("reload-ca");
        var dir = TempDir.Create("proxy-tls");
        string certPath = Path.Combine(dir, "proxy.crt"), keyPath = Path.Combine(dir, "proxy.key");
        Install(ca.Issue("proxy-a"), certPath, keyPath);
        var ports = Ports.Free(3);
        await using var node = await NodeProcess.StartAsync(TempDir.Create("node"), ports[0],
        [
            $"--Proxy:HttpsListen=127.0.0.1:{ports[1]}", $"--Proxy:Tls:CertificatePath={certPath}", $"--Proxy:Tls:KeyPath={keyPath}",
            $"--Management:Listen=127.0.0.1:{ports[2]}",
        ]);
        Assert.Equal("CN=proxy-a", (await TlsClients.ServerCertificateAsync(ports[1])).Subject);

        // A renewal that writes the certificate, then the key: read as one pair once the files are quiet.
        Install(ca.Issue("proxy-b"), certPath, keyPath);
        Assert.True(await EventuallyAsync(async () => (await TlsClients.ServerCertificateAsync(ports[1])).Subject == "CN=proxy-b"),
            "the new certificate was not served within 10 s:\n" + node.Output);
        Assert.Contains("HTTPS proxy certificate reloaded: CN=proxy-b", node.Output);
        Assert.DoesNotContain("not reloaded", node.Output);

        await File.WriteAllTextAsync(certPath, "not a certificate\n");
        Assert.True(await EventuallyAsync(() => Task.FromResult(node.Output.Contains("not reloaded"))), node.Output);
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // further handshakes and polls add no lines
        Assert.Equal("CN=proxy-b", (await TlsClients.ServerCertificateAsync(ports[1])).Subject);
        var warnings = node.Output.Split('\n').Where(l => l.Contains("not reloaded")).ToList();
        Assert.Single(warnings);
        Assert.Contains($"Proxy:Tls:CertificatePath: '{certPath}' holds no certificate", warnings[0]);
        Assert.DoesNotContain("   at ", node.Output); // no stack trace
        Assert.False(node.HasExited);
    }

    private static void Install((string Cert, string Key) issued, string certPath, string keyPath)
    {
        File.Copy(issued.Cert, certPath, overwrite: true);
        File.Copy(issued.Key, keyPath, overwrite: true);
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var until = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < until)
        {
            if (await condition()) return true;
            await Task.Delay(200);
        }
        return false;
    }
}
