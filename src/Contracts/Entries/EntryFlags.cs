namespace CacheCluster.Contracts.Entries;

/// <summary>Freshness facts of a stored response that fit in a bit each, and what kind of head it is.</summary>
[Flags]
public enum EntryFlags
{
    None = 0,
    Heuristic = 1,
    NoCache = 2,
    MustRevalidate = 4,
    Immutable = 8,
    /// <summary>Not a response: the URL's Vary marker (see <see cref="VaryMarker"/>).</summary>
    VaryMarker = 16,
}
