using System.Diagnostics;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Whether this node can use the cluster database, judged by the outcome of every membership-table call
/// (<see cref="WatchedMembershipTable"/>). Says it once when the database becomes unreachable and once when it is
/// back; in between the node serves with the membership it last read, and Orleans' retry warnings are left out
/// (<see cref="OutageQuietLoggerFactory"/>), counted in the "reachable again" line.
/// </summary>
public sealed class ClusterDatabaseWatch(string database, IServiceProvider services)
{
    private readonly Lock _gate = new();
    private long _downSince; // Stopwatch timestamp of the first failure; 0 while reachable
    private int _quieted;
    private ILogger? _logger;

    // Resolved on first use: the logger factory itself depends on this watch.
    private ILogger Logger => _logger ??= services.GetRequiredService<ILogger<ClusterDatabaseWatch>>();

    public bool Unreachable => Volatile.Read(ref _downSince) != 0;

    /// <summary>A table call failed.</summary>
    public void Failed(Exception error)
    {
        if (error is OperationCanceledException) return; // the silo is stopping, not the database
        lock (_gate)
        {
            if (_downSince != 0) return;
            _downSince = Stopwatch.GetTimestamp();
        }
        Logger.LogWarning("Cluster database unreachable ({Database}): serving with the last known membership ({Active} active node(s)); no node can join, leave or be declared dead until it is back. {Reason}",
            database, ActiveNodes(), PostgresConnection.Reason(error));
    }

    /// <summary>A table call that started at <paramref name="startedAt"/> (a Stopwatch timestamp) succeeded.</summary>
    public void Succeeded(long startedAt)
    {
        if (Volatile.Read(ref _downSince) == 0) return;
        TimeSpan down;
        int quieted;
        lock (_gate)
        {
            // A call already on its way when the outage began says nothing about now.
            if (_downSince == 0 || startedAt <= _downSince) return;
            down = Stopwatch.GetElapsedTime(_downSince);
            quieted = _quieted;
            _downSince = 0;
            _quieted = 0;
        }
        Logger.LogInformation("Cluster database reachable again after {Seconds:0} s ({Database}); {Quieted} Orleans retry warning(s) about it were left out of the log",
            down.TotalSeconds, database, quieted);
    }

    /// <summary>Counts a warning left out while the database is unreachable.</summary>
    public void Quieted() => Interlocked.Increment(ref _quieted);

    private string ActiveNodes()
    {
        try { return services.GetService<IClusterMembershipService>()?.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active).ToString() ?? "?"; }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException) { return "?"; }
    }
}
