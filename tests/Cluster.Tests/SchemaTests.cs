using CacheCluster.Cluster.Tests.Support;
using CacheCluster.Node.ClusterClient.Membership;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CacheCluster.Cluster.Tests;

/// <summary>Our PostgreSQL schema script (src/Node/ClusterClient/Membership/Sql/postgresql-clustering.sql) and its runner.</summary>
[Collection(PostgresCollection.Name)]
public class SchemaTests(PostgresFixture pg)
{
    [Fact]
    public async Task Creating_the_schema_twice_is_harmless_and_defines_every_query_the_provider_needs()
    {
        var cs = await pg.CreateDatabaseAsync("schema");
        var log = new ListLogger();

        await PostgresSchema.EnsureAsync(cs, log, CancellationToken.None);
        await PostgresSchema.EnsureAsync(cs, log, CancellationToken.None);

        Assert.Equal(2, log.Lines.Count);
        Assert.Contains("created tables orleansquery, orleansmembershipversiontable, orleansmembershiptable", log.Lines[0]);
        Assert.Contains("10 OrleansQuery rows added", log.Lines[0]);
        Assert.Contains("tables already present", log.Lines[1]);
        Assert.Contains("10 OrleansQuery rows refreshed", log.Lines[1]);
        Assert.Contains($"127.0.0.1:{pg.Port}", log.Lines[0]);
        Assert.DoesNotContain(PostgresFixture.Password, string.Join("\n", log.Lines));

        var keys = await Membership.ScalarAsync<string>(cs, "SELECT string_agg(QueryKey, ',' ORDER BY QueryKey) FROM OrleansQuery");
        Assert.Equal(PostgresSchema.QueryKeys.Order(StringComparer.Ordinal), keys.Split(',').Order(StringComparer.Ordinal));
        Assert.Equal(3L, await Membership.ScalarAsync<long>(cs,
            "SELECT count(*) FROM pg_proc WHERE proname LIKE 'cachecluster_membership_%'"));
    }

    [Fact]
    public async Task Nodes_starting_together_take_turns_instead_of_racing()
    {
        var cs = await pg.CreateDatabaseAsync("race");
        // Without the advisory lock, concurrent CREATE TABLE IF NOT EXISTS can fail with a unique violation.
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
            PostgresSchema.EnsureAsync(cs, NullLogger.Instance, CancellationToken.None))));
        Assert.Equal(10L, await Membership.ScalarAsync<long>(cs, "SELECT count(*) FROM OrleansQuery"));
    }

    [Fact]
    public async Task A_database_that_cannot_be_used_is_reported_with_the_key_and_server_but_not_the_password()
    {
        var cs = pg.ConnectionString("no_such_database");
        var ex = await Assert.ThrowsAsync<ClusterDatabaseException>(() =>
            PostgresSchema.EnsureAsync(cs, NullLogger.Instance, CancellationToken.None, "Cluster:ConnectionStringFile", TimeSpan.Zero));
        Assert.StartsWith("Cluster:ConnectionStringFile: ", ex.Message);
        Assert.Contains($"127.0.0.1:{pg.Port}", ex.Message);
        Assert.Contains("no_such_database", ex.Message);
        Assert.DoesNotContain(PostgresFixture.Password, ex.Message);
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_reported_with_host_and_port()
    {
        var port = Ports.Free(1)[0];
        var cs = $"Host=127.0.0.1;Port={port};Database=x;Username=u;Password={PostgresFixture.Password};Timeout=2";
        var ex = await Assert.ThrowsAsync<ClusterDatabaseException>(() =>
            PostgresSchema.EnsureAsync(cs, NullLogger.Instance, CancellationToken.None, "Cluster:ConnectionString", TimeSpan.Zero));
        Assert.StartsWith("Cluster:ConnectionString: ", ex.Message);
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
        Assert.DoesNotContain(PostgresFixture.Password, ex.Message);
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines) Lines.Add(formatter(state, exception));
        }
    }
}
