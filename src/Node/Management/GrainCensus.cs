namespace CacheCluster.Node.Management;

/// <summary>
/// Grain activations on this node by grain type, for /metrics. Asked of Orleans' management grain in the
/// background at most every 15 s, so a scrape never waits for a grain call.
/// </summary>
public sealed class GrainCensus(IGrainFactory grains, ILocalSiloDetails silo, ILogger<GrainCensus> logger)
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(15);
    private IReadOnlyList<(string Type, int Count)> _last = [];
    private DateTime _at;
    private int _refreshing;

    public IReadOnlyList<(string Type, int Count)> Last()
    {
        if (DateTime.UtcNow - _at >= MaxAge && Interlocked.Exchange(ref _refreshing, 1) == 0)
            _ = RefreshAsync();
        return _last;
    }

    public async Task RefreshAsync()
    {
        try
        {
            var stats = await grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics([silo.SiloAddress]);
            _last = [.. stats.GroupBy(s => ShortName(s.GrainType)).Select(g => (g.Key, g.Sum(s => s.ActivationCount)))];
            _at = DateTime.UtcNow;
        }
        catch (Exception ex)
        {
            logger.LogDebug("Grain statistics unavailable: {Message}", ex.Message);
        }
        finally { Volatile.Write(ref _refreshing, 0); }
    }

    /// <summary>"CacheCluster.Grains.Entries.CacheEntryGrain,CacheCluster.Grains" → "CacheEntryGrain".</summary>
    private static string ShortName(string type)
    {
        var name = type.Split(',')[0];
        return name[(name.LastIndexOf('.') + 1)..];
    }
}
