using Npgsql;

namespace CacheCluster.Cluster.Tests.Support;

public sealed record MemberRow(string Address, int Port, int Generation, string SiloName, int Status, DateTime IAmAliveTime)
{
    public const int Active = 3, Dead = 6;
}

/// <summary>Reads OrleansMembershipTable directly, the way an operator would with psql.</summary>
public static class Membership
{
    public static async Task<List<MemberRow>> ReadAsync(string connectionString, string clusterId)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT Address, Port, Generation, SiloName, Status, IAmAliveTime FROM OrleansMembershipTable WHERE DeploymentId = @id ORDER BY Port, Generation", conn);
        cmd.Parameters.AddWithValue("id", clusterId);
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<MemberRow>();
        while (await r.ReadAsync())
            rows.Add(new MemberRow(r.GetString(0), r.GetInt32(1), r.GetInt32(2), r.GetString(3), r.GetInt32(4), r.GetDateTime(5)));
        return rows;
    }

    public static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }
}
