namespace CacheCluster.Contracts.Intercept;

/// <summary>
/// A leaf certificate minted for one host name (or IP address) by the operator's interception CA, with its private
/// key. Immutable: handed between nodes without a copy. The key crosses the cluster only inside grain messages,
/// which cluster TLS (Cluster:Tls:*) protects on any network address.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LeafCertificate(
    [property: Id(0)] byte[] CertificateDer,
    [property: Id(1)] byte[] PrivateKeyPkcs8,
    [property: Id(2)] DateTimeOffset NotAfter);

/// <summary>
/// One per intercepted host name (the key, lower-case): mints its leaf certificate once for the whole cluster and
/// hands the same one to every node that bumps a tunnel to that host, until it nears its end.
/// </summary>
public interface ILeafCertificateGrain : IGrainWithStringKey
{
    Task<LeafCertificate> GetAsync();
}
