using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Creates or updates the PostgreSQL schema that Orleans' ADO.NET clustering provider needs
/// (<c>Sql/postgresql-clustering.sql</c>, embedded in this assembly). Idempotent; runs in one transaction under
/// a PostgreSQL advisory lock, so several nodes starting at the same moment take turns instead of racing.
/// </summary>
public static class PostgresSchema
{
    public const string ResourceName = "CacheCluster.Node.ClusterClient.Membership.postgresql-clustering.sql";

    /// <summary>Advisory lock key ("CCschema" in ASCII); any session that changes this schema takes it first.</summary>
    public const long AdvisoryLockKey = 0x4343_7363_6865_6D61;

    /// <summary>The tables the script creates, as PostgreSQL stores their names.</summary>
    public static readonly string[] Tables = ["orleansquery", "orleansmembershipversiontable", "orleansmembershiptable"];

    /// <summary>The OrleansQuery keys the script defines (everything the 10.4 membership provider looks up).</summary>
    public static readonly string[] QueryKeys =
    [
        "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey", "UpdateIAmAlivetimeKey",
        "MembershipReadRowKey", "MembershipReadAllKey", "GatewaysQueryKey", "DeleteMembershipTableEntriesKey",
        "CleanupDefunctSiloEntriesKey", "CleanupDefunctSiloEntryKey",
    ];

    public static string Script
    {
        get
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourceName)
                ?? throw new InvalidOperationException($"embedded resource {ResourceName} is missing from the build");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    public static Task EnsureAsync(string connectionString, ILogger logger, CancellationToken cancellationToken) =>
        EnsureAsync(connectionString, logger, cancellationToken, "Cluster:ConnectionString", TimeSpan.FromSeconds(15));

    /// <summary>
    /// Runs the schema script. Connection failures that look transient (refused, server starting up) are retried
    /// until <paramref name="retryFor"/> has passed. Failures throw <see cref="ClusterDatabaseException"/> whose
    /// message names <paramref name="settingKey"/> and the server (host:port, database, user; never the password).
    /// </summary>
    public static Task EnsureAsync(string connectionString, ILogger logger, CancellationToken cancellationToken,
        string settingKey, TimeSpan retryFor) =>
        WithRetryAsync(connectionString, logger, cancellationToken, settingKey, retryFor, "cannot create the cluster schema in", async started =>
        {
            var report = await RunScriptAsync(connectionString, cancellationToken);
            logger.LogInformation(
                "Cluster schema on {Server}: {Tables}; {Queries}; functions replaced ({Elapsed} ms)",
                PostgresConnection.Describe(connectionString),
                report.CreatedTables.Count == 0 ? "tables already present" : "created tables " + string.Join(", ", report.CreatedTables),
                report.NewQueries.Count == 0 ? $"{QueryKeys.Length} OrleansQuery rows refreshed"
                    : $"{report.NewQueries.Count} OrleansQuery rows added, {QueryKeys.Length - report.NewQueries.Count} refreshed",
                started.ElapsedMilliseconds);
        });

    /// <summary>
    /// With Cluster:CreateSchema=false: checks that the database answers and holds the membership table, with the
    /// same retries, so a node started while the database is away stops with one clear sentence rather than an
    /// Orleans start-up failure.
    /// </summary>
    public static Task CheckReachableAsync(string connectionString, ILogger logger, CancellationToken cancellationToken,
        string settingKey, TimeSpan retryFor) =>
        WithRetryAsync(connectionString, logger, cancellationToken, settingKey, retryFor, "cannot use the cluster database in", async _ =>
        {
            await using var conn = new NpgsqlConnection(connectionString);
            await conn.OpenAsync(cancellationToken);
            await using var cmd = new NpgsqlCommand("SELECT count(*) FROM OrleansMembershipVersionTable", conn);
            await cmd.ExecuteScalarAsync(cancellationToken);
        });

    private static async Task WithRetryAsync(string connectionString, ILogger logger, CancellationToken cancellationToken,
        string settingKey, TimeSpan retryFor, string failure, Func<Stopwatch, Task> operation)
    {
        var server = PostgresConnection.Describe(connectionString);
        var started = Stopwatch.StartNew();
        var attempt = 0;
        while (true)
        {
            attempt++;
            try
            {
                await operation(started);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or SocketException)
            {
                if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
                if (PostgresConnection.IsTransient(ex) && started.Elapsed < retryFor)
                {
                    var delay = TimeSpan.FromMilliseconds(Math.Min(2000, 250 * attempt));
                    if (attempt == 1 || attempt % 4 == 0)
                        logger.LogWarning("Cluster database {Server} not reachable yet ({Reason}); retrying for up to {Window} s",
                            server, PostgresConnection.Reason(ex), (int)retryFor.TotalSeconds);
                    await Task.Delay(delay, cancellationToken);
                    continue;
                }
                throw new ClusterDatabaseException($"{settingKey}: {failure} PostgreSQL at {server}: {PostgresConnection.Reason(ex)}", ex);
            }
        }
    }

    private sealed record Report(IReadOnlyList<string> CreatedTables, IReadOnlyList<string> NewQueries);

    private static async Task<Report> RunScriptAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        await Exec(conn, tx, "SET LOCAL lock_timeout = '60s'", ct);
        await Exec(conn, tx, $"SELECT pg_advisory_xact_lock({AdvisoryLockKey})", ct);

        var missingTables = new List<string>();
        foreach (var table in Tables)
        {
            await using var cmd = new NpgsqlCommand("SELECT to_regclass(@name) IS NULL", conn, tx);
            cmd.Parameters.AddWithValue("name", table);
            if ((bool)(await cmd.ExecuteScalarAsync(ct))!) missingTables.Add(table);
        }
        var existingKeys = new HashSet<string>(StringComparer.Ordinal);
        if (!missingTables.Contains("orleansquery"))
        {
            await using var cmd = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery", conn, tx);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) existingKeys.Add(reader.GetString(0));
        }

        // The script holds no parameters: Npgsql sends it as is (its '@Name' placeholders are inside literals).
        await Exec(conn, tx, Script, ct);
        await tx.CommitAsync(ct);
        return new Report(missingTables, QueryKeys.Where(k => !existingKeys.Contains(k)).ToList());
    }

    private static async Task Exec(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx) { CommandTimeout = 120 };
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
