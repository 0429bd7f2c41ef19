namespace CacheCluster.Grains.Storage;

public sealed partial class EntryStore
{
    /// <summary>True once <see cref="OpenAsync"/> has created or recovered the store and until it closes (readiness).</summary>
    public bool IsOpen => Volatile.Read(ref _state) == StateOpen;
}
