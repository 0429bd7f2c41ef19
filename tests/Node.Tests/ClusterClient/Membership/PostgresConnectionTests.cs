using CacheCluster.Node.ClusterClient.Membership;
using Npgsql;

namespace CacheCluster.Node.Tests.ClusterClient.Membership;

/// <summary>
/// The node connects to its cluster database without GSS encryption unless the operator asks for it: Npgsql's
/// default calls the blocking Kerberos library on every new connection (DatabaseLossTests with Proxy:InlineIo saw
/// it stall a node's sockets for seconds).
/// </summary>
public class PostgresConnectionTests
{
    [Fact]
    public void Gss_encryption_is_off_by_default_and_everything_else_is_kept()
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresConnection.WithNodeDefaults("Host=db.test;Port=6432;Database=cache;Username=u;Password=p;SSL Mode=Require"));
        Assert.Equal(GssEncryptionMode.Disable, b.GssEncryptionMode);
        Assert.Equal(("db.test", 6432, "cache", "u", "p", SslMode.Require), (b.Host, b.Port, b.Database, b.Username, b.Password, b.SslMode));
    }

    [Theory]
    [InlineData("Host=db.test;Database=cache;GSS Encryption Mode=Prefer", GssEncryptionMode.Prefer)]
    [InlineData("Host=db.test;Database=cache;gssencryptionmode=Require", GssEncryptionMode.Require)]
    public void An_operator_who_names_gss_encryption_gets_what_they_named(string given, GssEncryptionMode expected)
    {
        Assert.Equal(expected, new NpgsqlConnectionStringBuilder(PostgresConnection.WithNodeDefaults(given)).GssEncryptionMode);
    }
}
