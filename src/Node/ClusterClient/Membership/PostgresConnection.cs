using System.Net.Sockets;
using Npgsql;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Helpers around the cluster's PostgreSQL connection string. Everything here is careful never to repeat the
/// connection string itself: it holds a password. Messages name the server as host:port, database and user.
/// </summary>
public static class PostgresConnection
{
    /// <summary>Null if <paramref name="connectionString"/> can be used, else why not (without its value).</summary>
    public static string? Validate(string connectionString)
    {
        NpgsqlConnectionStringBuilder b;
        try { b = new NpgsqlConnectionStringBuilder(connectionString); }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            return $"is not a valid PostgreSQL connection string ({ex.Message}); expected Host=...;Port=5432;Database=...;Username=...;Password=...";
        }
        if (string.IsNullOrWhiteSpace(b.Host)) return "names no server: add Host=... (and Port=... unless 5432)";
        if (string.IsNullOrWhiteSpace(b.Database)) return "names no database: add Database=...";
        return null;
    }

    /// <summary>
    /// The connection string as the node uses it: GSS encryption is off unless the operator asks for it (in the string
    /// or with PGGSSENCMODE). Npgsql's default ("Prefer") asks the system's Kerberos library for a context on every new
    /// connection; that call blocks, for seconds where no KDC answers, and runs wherever the socket's connect completed:
    /// with Proxy:InlineIo that is the thread that serves every socket of the node. Measured: a node's silo messages
    /// stalled until its peers declared it dead while it reconnected to the database.
    /// </summary>
    public static string WithNodeDefaults(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        bool named = given.Keys.Cast<string>().Any(k => k.Replace(" ", "").Equals("GssEncryptionMode", StringComparison.OrdinalIgnoreCase)
                                                    || k.Equals("gssencmode", StringComparison.OrdinalIgnoreCase));
        if (named || Environment.GetEnvironmentVariable("PGGSSENCMODE") is not null) return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { GssEncryptionMode = GssEncryptionMode.Disable }.ConnectionString;
    }

    /// <summary>"host:port, database 'db', user 'name'": what an operator needs to find the server, minus secrets.</summary>
    public static string Describe(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            var user = string.IsNullOrEmpty(b.Username) ? Environment.UserName : b.Username;
            return $"{b.Host}:{b.Port}, database '{b.Database}', user '{user}'";
        }
        catch (ArgumentException) { return "(unparsable connection string)"; }
    }

    /// <summary>True for failures worth retrying while a database server is starting (refused, unreachable, starting up).</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState is "57P03" /* cannot_connect_now: starting up */ or "53300" /* too many connections */,
        NpgsqlException n => n.IsTransient || n.InnerException is SocketException or TimeoutException,
        SocketException or TimeoutException => true,
        _ => false,
    };

    /// <summary>One readable sentence for a database failure (the innermost useful reason, no stack, no secrets).</summary>
    public static string Reason(Exception ex)
    {
        if (ex is PostgresException pg) return $"{pg.MessageText} (SQLSTATE {pg.SqlState})";
        var inner = ex;
        while (inner.InnerException is not null && inner is not SocketException) inner = inner.InnerException;
        return inner == ex || inner.Message == ex.Message ? ex.Message : $"{ex.Message}: {inner.Message}";
    }
}

/// <summary>The cluster database cannot be used. The message names the configuration key and the server, never the password.</summary>
public sealed class ClusterDatabaseException(string message, Exception? inner = null) : Exception(message, inner);
