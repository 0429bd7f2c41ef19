using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CacheCluster.Contracts.Intercept;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// This node's memory of leaf certificates, ready for TLS (SslStreamCertificateContext), one per intercepted host.
/// A host seen for the first time asks its <see cref="ILeafCertificateGrain"/>, so the whole cluster presents the
/// same certificate and mints it once; if the cluster cannot answer, the node mints one itself (it holds the CA too):
/// a bumped tunnel never fails because a grain call did.
/// </summary>
public sealed class LeafCertificates(IGrainFactory grains, LeafMinter minter, ILogger<LeafCertificates> logger)
{
    /// <summary>Hosts remembered at most; past that the memory is emptied (and refilled from the grains).</summary>
    private const int MaxHosts = 10_000;

    private sealed record Entry(LeafCertificate Leaf, SslStreamCertificateContext Context);

    private readonly ConcurrentDictionary<string, Lazy<Task<Entry>>> _hosts = new(StringComparer.Ordinal);

    public async Task<SslStreamCertificateContext> GetAsync(string host)
    {
        host = host.ToLowerInvariant();
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var lazy = _hosts.GetOrAdd(host, h => new Lazy<Task<Entry>>(() => LoadAsync(h)));
            Entry entry;
            try { entry = await lazy.Value; }
            catch
            {
                _hosts.TryRemove(new KeyValuePair<string, Lazy<Task<Entry>>>(host, lazy));
                throw;
            }
            if (!minter.NeedsRenewal(entry.Leaf, DateTimeOffset.UtcNow)) return entry.Context;
            _hosts.TryRemove(new KeyValuePair<string, Lazy<Task<Entry>>>(host, lazy)); // ask again: the grain renews it
        }
        return (await LoadAsync(host)).Context;
    }

    private async Task<Entry> LoadAsync(string host)
    {
        if (_hosts.Count > MaxHosts) _hosts.Clear();
        LeafCertificate leaf;
        try { leaf = await grains.GetGrain<ILeafCertificateGrain>(host).GetAsync(); }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogWarning("The cluster could not hand out the leaf certificate for {Host} ({Error}); minting one on this node", host, ex.Message);
            leaf = minter.Mint(host);
        }
        return new Entry(leaf, ContextOf(leaf));
    }

    private static SslStreamCertificateContext ContextOf(LeafCertificate leaf)
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(leaf.CertificateDer);
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(leaf.PrivateKeyPkcs8, out _);
        var withKey = publicOnly.CopyWithPrivateKey(key);
        // offline: no attempt to fetch intermediates or revocation data for a certificate we just made.
        return SslStreamCertificateContext.Create(withKey, additionalCertificates: null, offline: true);
    }
}
