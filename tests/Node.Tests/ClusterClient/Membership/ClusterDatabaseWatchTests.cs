using System.Collections.Concurrent;
using System.Diagnostics;
using CacheCluster.Node.ClusterClient.Membership;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CacheCluster.Node.Tests.ClusterClient.Membership;

/// <summary>
/// While the cluster database is unreachable a node says so once, says once when it is back, and leaves out
/// Orleans' warnings that only repeat a failed table call; everything else it logs passes.
/// (End to end, with PostgreSQL stopped under load: Cluster.Tests DatabaseLossTests.)
/// </summary>
public sealed class ClusterDatabaseWatchTests : IDisposable
{
    private const string Agent = "Orleans.Runtime.MembershipService.MembershipAgent";
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ServiceProvider _services;
    private readonly ClusterDatabaseWatch _watch;
    private readonly ILoggerFactory _loggers;

    public ClusterDatabaseWatchTests()
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(new Capture(_lines)));
        services.AddSingleton(sp => new ClusterDatabaseWatch("PostgreSQL at db.test:5432, database 'cache', user 'cache'", sp));
        _services = services.BuildServiceProvider();
        _watch = _services.GetRequiredService<ClusterDatabaseWatch>();
        _loggers = new OutageQuietLoggerFactory(_services.GetRequiredService<ILoggerFactory>(), _watch);
    }

    public void Dispose() => _services.Dispose();

    private static Exception Refused() => new NpgsqlException("Failed to connect to 10.0.0.1:5432", new System.Net.Sockets.SocketException(111));

    private void OrleansRetryWarning() =>
        _loggers.CreateLogger(Agent).LogWarning(new EventId(100659), Refused(), "Failed to update table entry for this silo, will retry shortly");

    [Fact]
    public void An_outage_is_said_once_when_it_begins_and_once_when_it_ends_with_the_retries_left_out_counted()
    {
        long before = Stopwatch.GetTimestamp();
        _watch.Failed(Refused());
        OrleansRetryWarning();
        _watch.Failed(Refused());
        OrleansRetryWarning();
        _watch.Succeeded(before); // a call already on its way when the outage began says nothing about now
        Assert.True(_watch.Unreachable);
        _watch.Succeeded(Stopwatch.GetTimestamp());
        _watch.Succeeded(Stopwatch.GetTimestamp());

        var lines = _lines.ToArray();
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("Warning CacheCluster.Node.ClusterClient.Membership.ClusterDatabaseWatch: Cluster database unreachable (PostgreSQL at db.test:5432, database 'cache', user 'cache'): serving with the last known membership", lines[0]);
        Assert.Contains("Failed to connect to 10.0.0.1:5432", lines[0]);
        Assert.Matches(@"^Information .*: Cluster database reachable again after 0 s \(PostgreSQL at db\.test:5432, .*\); 2 Orleans retry warning\(s\) about it were left out of the log$", lines[1]);
        Assert.False(_watch.Unreachable);
    }

    [Fact]
    public void Only_the_retry_warnings_are_left_out_and_only_during_an_outage()
    {
        OrleansRetryWarning(); // reachable: the same warning means something else is wrong, and shows
        _watch.Failed(Refused());
        OrleansRetryWarning();
        _loggers.CreateLogger(Agent).LogError(new EventId(100659), "an error stays visible");
        _loggers.CreateLogger("Orleans.Runtime.MembershipService.SiloHealthMonitor").LogWarning(new EventId(100613), "a missed probe stays visible");
        _loggers.CreateLogger("Orleans.Runtime.Messaging").LogWarning(new EventId(100659), "another category stays visible");

        var lines = _lines.ToArray();
        Assert.Equal(5, lines.Length);
        Assert.Equal($"Warning {Agent}: Failed to update table entry for this silo, will retry shortly", lines[0]);
        Assert.Contains("Cluster database unreachable", lines[1]);
        Assert.EndsWith("an error stays visible", lines[2]);
        Assert.EndsWith("a missed probe stays visible", lines[3]);
        Assert.EndsWith("another category stays visible", lines[4]);
    }

    [Fact]
    public void A_stopping_silo_is_not_an_outage()
    {
        _watch.Failed(new OperationCanceledException());
        Assert.False(_watch.Unreachable);
        Assert.Empty(_lines);
    }

    private sealed class Capture(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Line(lines, categoryName);
        public void Dispose() { }

        private sealed class Line(ConcurrentQueue<string> lines, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
        }
    }
}
