using CacheCluster.Contracts.Intercept;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// Mints a host's leaf certificate once for the cluster and keeps it in memory while it has more than a quarter of
/// its life left; a new one after that (or after the grain was collected). The private key is never logged.
/// </summary>
public sealed class LeafCertificateGrain(LeafMinter minter) : Grain, ILeafCertificateGrain
{
    private LeafCertificate? _current;

    public Task<LeafCertificate> GetAsync()
    {
        if (_current is null || minter.NeedsRenewal(_current, DateTimeOffset.UtcNow))
            _current = minter.Mint(this.GetPrimaryKeyString());
        return Task.FromResult(_current);
    }
}
