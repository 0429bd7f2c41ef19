using System.Net.Security;
using CacheCluster.Node.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CacheCluster.Node.FrontEnd.Tls;

/// <summary>
/// Holds the HTTPS proxy listener's certificate and swaps it when its PEM files change: a file watcher (plus a
/// slow poll for file systems without change events) schedules a reload once the files have been quiet for a
/// moment, so a renewal that writes the certificate and then the key is read as one pair. The next handshake
/// uses the new certificate; connections already open keep theirs. A bad new file keeps the old certificate and
/// logs one line, until the files change again.
/// </summary>
public sealed class ProxyCertificateStore : IDisposable
{
    /// <summary>How long the files must be quiet after a change before they are read.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(30);

    private readonly HttpsProxySettings _settings;
    private readonly ILogger<ProxyCertificateStore> _logger;
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Timer _timer;
    private readonly Lock _reload = new();
    private volatile Loaded? _current;
    private string _stamp = "";

    private sealed record Loaded(ProxyCertificate Certificate, SslStreamCertificateContext Context);

    public ProxyCertificateStore(NodeSettings settings, ILogger<ProxyCertificateStore> logger)
    {
        _settings = settings.Proxy.Https;
        _logger = logger;
        _timer = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
        if (!_settings.Enabled) return;
        // Validated at start-up (HttpsProxySettings); a file changed in between fails the start here, naming its key.
        if (!TryLoad(out var problem))
            throw new NodeConfigurationException([$"{problem.Key}: {problem.Message}"]);
        foreach (var dir in new[] { _settings.CertificatePath!, _settings.KeyPath! }.Select(Path.GetDirectoryName).Distinct())
        {
            if (dir is null || !Directory.Exists(dir)) continue;
            // The whole folder: editors and Kubernetes secrets replace files by rename or symlink swap.
            var watcher = new FileSystemWatcher(dir) { IncludeSubdirectories = false, NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime };
            watcher.Changed += (_, _) => Schedule();
            watcher.Created += (_, _) => Schedule();
            watcher.Renamed += (_, _) => Schedule();
            watcher.Deleted += (_, _) => Schedule();
            watcher.EnableRaisingEvents = true;
            _watchers.Add(watcher);
        }
        _timer.Change(Poll, Poll);
    }

    /// <summary>The certificate handshakes use now.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Current => _current?.Certificate.Leaf;

    /// <summary>Kestrel's per-handshake callback: TLS options with the current certificate and the ALPN list.</summary>
    public ValueTask<SslServerAuthenticationOptions> OptionsFor(TlsHandshakeCallbackContext context) =>
        ValueTask.FromResult(new SslServerAuthenticationOptions
        {
            ServerCertificateContext = _current!.Context,
            // h2 first: clients that speak it get it; CONNECT and forward requests work on both (docs/tls.md).
            ApplicationProtocols = _settings.Http2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11],
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
        });

    private void Schedule()
    {
        try { _timer.Change(Settle, Poll); } catch (ObjectDisposedException) { }
    }

    /// <summary>Reads the files again if they changed since the last attempt; runs on the timer.</summary>
    internal void Reload()
    {
        lock (_reload)
        {
            if (ProxyCertificate.Stamp(_settings.CertificatePath!, _settings.KeyPath!) == _stamp) return;
            bool loaded;
            (string Key, string Message) problem;
            try { loaded = TryLoad(out problem); }
            catch (Exception ex) // a timer callback must never take the node down: keep the certificate in use
            {
                (loaded, problem) = (false, (ProxyCertificate.CertificateKey, ex.Message));
            }
            if (loaded)
                _logger.LogInformation("HTTPS proxy certificate reloaded: {Subject}, valid until {NotAfter:u}; new handshakes use it",
                    _current!.Certificate.Leaf.Subject, _current.Certificate.Leaf.NotAfter.ToUniversalTime());
            else
                _logger.LogWarning("HTTPS proxy certificate not reloaded, the previous one stays in use: {Key}: {Problem}", problem.Key, problem.Message);
        }
    }

    private bool TryLoad(out (string Key, string Message) problem)
    {
        // Stamp first: a change during the read is seen as a new change and read again.
        _stamp = ProxyCertificate.Stamp(_settings.CertificatePath!, _settings.KeyPath!);
        var (cert, p) = ProxyCertificate.TryLoad(_settings.CertificatePath!, _settings.KeyPath!);
        problem = p;
        if (cert is null) return false;
        // Built once per certificate (offline: no network fetch of intermediates), not per handshake.
        var context = SslStreamCertificateContext.Create(cert.Leaf, cert.Intermediates, offline: true);
        var old = _current;
        _current = new Loaded(cert, context);
        if (DateTime.Now > cert.Leaf.NotAfter || DateTime.Now < cert.Leaf.NotBefore)
            _logger.LogWarning("HTTPS proxy certificate {Subject} is outside its validity ({NotBefore:u} to {NotAfter:u}): clients will refuse it",
                cert.Leaf.Subject, cert.Leaf.NotBefore.ToUniversalTime(), cert.Leaf.NotAfter.ToUniversalTime());
        // Handshakes in progress may still hold the old context: leave it to the GC rather than dispose it under them.
        _ = old;
        return true;
    }

    public void Dispose()
    {
        foreach (var w in _watchers) w.Dispose();
        _timer.Dispose();
    }
}
