using System.Net;
using CacheCluster.Node.ClusterClient.Membership;
using CacheCluster.Node.Configuration;
using Microsoft.Extensions.Configuration;
using Orleans.Configuration;

namespace CacheCluster.Cluster.Tests;

/// <summary>The Cluster:* keys: AdoNet mode needs a connection string, errors name the key, secrets are never echoed.</summary>
public class ClusterConfigurationTests
{
    private const string Secret = "hunter2-do-not-print";
    private const string Valid = $"Host=127.0.0.1;Port=55432;Database=cachecluster;Username=postgres;Password={Secret}";

    /// <summary>The operator's connection string, as given, plus GSS encryption off (PostgresConnection.WithNodeDefaults says why).</summary>
    private static void AssertIsValidWithGssOff(string? actual)
    {
        var b = new Npgsql.NpgsqlConnectionStringBuilder(actual);
        Assert.Equal(("127.0.0.1", 55432, "cachecluster", "postgres", Secret), (b.Host, b.Port, b.Database, b.Username, b.Password));
        Assert.Equal(Npgsql.GssEncryptionMode.Disable, b.GssEncryptionMode);
    }

    private static NodeSettings Load(params (string Key, string Value)[] values) =>
        NodeSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build(), "/tmp");

    private static IReadOnlyList<string> Errors(params (string Key, string Value)[] values) =>
        Assert.Throws<NodeConfigurationException>(() => Load(values)).Errors;

    [Fact]
    public void AdoNet_mode_with_a_connection_string_uses_loopback_and_orleans_defaults()
    {
        var c = Load(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionString", Valid)).Cluster;
        Assert.Equal(ClusteringMode.AdoNet, c.Mode);
        AssertIsValidWithGssOff(c.ConnectionString);
        Assert.Equal("Cluster:ConnectionString", c.ConnectionStringKey);
        Assert.True(c.CreateSchema);
        Assert.Equal(IPAddress.Loopback, c.AdvertisedAddress);
        var defaults = new ClusterMembershipOptions();
        Assert.Equal((defaults.ProbeTimeout, defaults.NumMissedProbesLimit, defaults.TableRefreshTimeout, defaults.DefunctSiloExpiration),
            (c.ProbeTimeout, c.MissedProbesLimit, c.TableRefreshTimeout, c.DefunctSiloExpiration));
    }

    [Fact]
    public void Localhost_mode_needs_no_connection_string()
    {
        Assert.Null(Load().Cluster.ConnectionString);
        Assert.Null(Load(("Cluster:Mode", "Localhost")).Cluster.ConnectionString);
    }

    [Fact]
    public void AdoNet_mode_without_a_connection_string_names_both_keys()
    {
        var e = Assert.Single(Errors(("Cluster:Mode", "AdoNet")));
        Assert.StartsWith("Cluster:ConnectionString: ", e);
        Assert.Contains("Cluster:ConnectionStringFile", e);
    }

    [Fact]
    public void The_connection_string_can_come_from_a_file_such_as_a_mounted_secret()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Valid + "\n");
            var c = Load(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionStringFile", file)).Cluster;
            AssertIsValidWithGssOff(c.ConnectionString);
            Assert.Equal("Cluster:ConnectionStringFile", c.ConnectionStringKey);

            File.WriteAllText(file, "  \n");
            Assert.StartsWith("Cluster:ConnectionStringFile: the file", Assert.Single(Errors(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionStringFile", file))));
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void A_missing_file_or_both_keys_are_errors_naming_the_file_key()
    {
        var missing = Assert.Single(Errors(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionStringFile", "/nonexistent/cs.txt")));
        Assert.StartsWith("Cluster:ConnectionStringFile: cannot read '/nonexistent/cs.txt'", missing);

        var both = Assert.Single(Errors(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionString", Valid), ("Cluster:ConnectionStringFile", "/x")));
        Assert.StartsWith("Cluster:ConnectionStringFile: set either", both);
    }

    [Theory]
    [InlineData($"Host=db;Databse=x;Password={Secret}", "is not a valid PostgreSQL connection string")]
    [InlineData($"Database=x;Username=u;Password={Secret}", "names no server")]
    [InlineData($"Host=db;Username=u;Password={Secret}", "names no database")]
    public void A_bad_connection_string_is_reported_without_its_password(string cs, string expected)
    {
        var e = Assert.Single(Errors(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionString", cs)));
        Assert.StartsWith("Cluster:ConnectionString: ", e);
        Assert.Contains(expected, e);
        Assert.DoesNotContain(Secret, e);
    }

    [Theory]
    [InlineData("Cluster:AdvertisedAddress", "0.0.0.0", "Cluster:AdvertisedAddress: '0.0.0.0' is not an IP address")]
    [InlineData("Cluster:AdvertisedAddress", "node1.local", "Cluster:AdvertisedAddress: 'node1.local' is not an IP address")]
    [InlineData("Cluster:ProbeTimeout", "fast", "Cluster:ProbeTimeout: 'fast' is not a duration")]
    [InlineData("Cluster:MissedProbesLimit", "0", "Cluster:MissedProbesLimit: '0' must be a whole number from 1")]
    [InlineData("Cluster:TableRefreshTimeout", "0s", "Cluster:TableRefreshTimeout: '0s' must be greater than zero")]
    [InlineData("Cluster:CreateSchema", "maybe", "Cluster:CreateSchema: 'maybe' must be true or false")]
    [InlineData("Cluster:ConectionString", "x", "Cluster:ConectionString: unknown setting")]
    public void Bad_cluster_values_are_reported_with_their_key(string key, string value, string expected)
    {
        var errors = Errors(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionString", Valid), (key, value));
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Failure_detection_knobs_map_onto_orleans_membership_options()
    {
        var c = Load(("Cluster:Mode", "AdoNet"), ("Cluster:ConnectionString", Valid), ("Cluster:AdvertisedAddress", "10.1.2.3"),
            ("Cluster:ProbeTimeout", "1s"), ("Cluster:MissedProbesLimit", "2"), ("Cluster:TableRefreshTimeout", "2s"),
            ("Cluster:DefunctSiloExpiration", "10m"), ("Cluster:CreateSchema", "false"),
            ("Cluster:Tls:Mode", "Off")).Cluster; // a network address without certificates needs the explicit opt-in
        Assert.Equal(IPAddress.Parse("10.1.2.3"), c.AdvertisedAddress);
        Assert.False(c.CreateSchema);

        var o = new ClusterMembershipOptions();
        AdoNetMembership.Apply(c, o);
        Assert.Equal(TimeSpan.FromSeconds(1), o.ProbeTimeout);
        Assert.Equal(2, o.NumMissedProbesLimit);
        Assert.Equal(TimeSpan.FromSeconds(2), o.TableRefreshTimeout);
        Assert.Equal(TimeSpan.FromMinutes(10), o.DefunctSiloExpiration);
        Assert.Equal(TimeSpan.FromMinutes(10), o.DefunctSiloMinimumRetention);
    }
}
