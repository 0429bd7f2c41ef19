namespace CacheCluster.Contracts.Storage;

/// <summary>
/// A node's entry store is failing (a write, flush or checkpoint failed, typically a full disk) and refuses
/// calls at once until it has recovered. Crosses grain calls: the proxy then serves the request uncached
/// instead of waiting for call timeouts.
/// </summary>
[GenerateSerializer]
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException() : base("The entry store is unavailable.") { }

    public StoreUnavailableException(string message) : base(message) { }

    public StoreUnavailableException(string message, Exception inner) : base(message, inner) { }
}
