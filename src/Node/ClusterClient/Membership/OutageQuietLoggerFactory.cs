namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// The node's logger factory, except that Orleans' membership warnings that only repeat "the table call failed,
/// retrying" are left out while <see cref="ClusterDatabaseWatch"/> knows the database is unreachable (it said so
/// once, naming the database). Every other line passes, errors included, and these same warnings too while the
/// database is reachable (then they mean something else is wrong).
/// </summary>
public sealed class OutageQuietLoggerFactory(ILoggerFactory inner, ClusterDatabaseWatch watch) : ILoggerFactory
{
    private const string MembershipCategories = "Orleans.Runtime.MembershipService.";

    /// <summary>Orleans ErrorCode values of the retry warnings (MembershipTableManager, MembershipAgent, MembershipTableCleanupAgent).</summary>
    private static readonly HashSet<int> RetryWarnings =
    [
        100659, // MembershipUpdateIAmAliveFailure: "Failed to refresh membership table" and "Failed to update table entry for this silo", will retry
        100662, // MembershipCleanDeadEntriesFailure
        100652, // MembershipReadAll_Cleanup
    ];

    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith(MembershipCategories, StringComparison.Ordinal) ? new Quiet(logger, watch) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    private sealed class Quiet(ILogger inner, ClusterDatabaseWatch watch) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning && RetryWarnings.Contains(eventId.Id) && watch.Unreachable)
            {
                watch.Quieted();
                return;
            }
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
