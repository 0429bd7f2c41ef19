using CacheCluster.Cluster.Tests.Support;

namespace CacheCluster.Cluster.Tests;

/// <summary>The node executable: `--init-schema`, and start-up against a database it cannot use.</summary>
[Collection(PostgresCollection.Name)]
public class CommandTests(PostgresFixture pg)
{
    [Fact]
    public async Task Init_schema_creates_the_schema_and_exits_0()
    {
        var cs = await pg.CreateDatabaseAsync("initcmd");
        var (code, output) = await NodeProcess.RunToExitAsync(
            ["--Cluster:Mode=AdoNet", $"--Cluster:ConnectionString={cs}", "--init-schema"], TimeSpan.FromSeconds(60));
        Assert.True(code == 0, output);
        Assert.Contains("created tables", output);
        Assert.DoesNotContain(PostgresFixture.Password, output);
        Assert.Equal(10L, await Membership.ScalarAsync<long>(cs, "SELECT count(*) FROM OrleansQuery"));
    }

    [Fact]
    public async Task Init_schema_without_adonet_settings_exits_2_naming_the_key()
    {
        var (code, output) = await NodeProcess.RunToExitAsync(["--init-schema"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains("Cluster:Mode", output);
    }

    [Fact]
    public async Task A_node_whose_database_does_not_exist_stops_with_the_key_and_server_but_not_the_password()
    {
        var (code, output) = await NodeProcess.RunToExitAsync(
        [
            "--Cluster:Mode=AdoNet", $"--Cluster:ConnectionString={pg.ConnectionString("missing_db")}",
            $"--Store:Directory={TempDir.Create("nodb")}", "--Proxy:Listen=127.0.0.1:0",
        ], TimeSpan.FromSeconds(60));
        Assert.Equal(2, code);
        Assert.Contains($"Cluster:ConnectionString: cannot create the cluster schema in PostgreSQL at 127.0.0.1:{pg.Port}", output);
        Assert.Contains("missing_db", output);
        Assert.DoesNotContain(PostgresFixture.Password, output);
    }
}
