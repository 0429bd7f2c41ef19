using System.Net;
using CacheCluster.Cluster.Tests.Support;
using CacheCluster.Node.ClusterClient.Membership;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.Membership;
using Orleans.Runtime.MembershipService;

namespace CacheCluster.Cluster.Tests;

/// <summary>
/// Orleans' own ADO.NET membership provider (10.4.2) against our schema: every query key it uses, with the
/// optimistic-concurrency rules of the membership protocol. The session runs in a non-UTC time zone so a
/// timestamp that went through as local time would show.
/// </summary>
[Collection(PostgresCollection.Name)]
public class MembershipContractTests(PostgresFixture pg) : IAsyncLifetime
{
    private const string ClusterId = "contract";
    private string _cs = "";
    private AdoNetClusteringTable _table = null!;
    private readonly ServiceProvider _services = new ServiceCollection().BuildServiceProvider();

    public async Task InitializeAsync()
    {
        _cs = await pg.CreateDatabaseAsync("contract") + ";Timezone=XYZ+3";
        await PostgresSchema.EnsureAsync(_cs, NullLogger.Instance, CancellationToken.None);
        _table = NewTable();
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    private AdoNetClusteringTable NewTable() => new(_services,
        Options.Create(new ClusterOptions { ClusterId = ClusterId, ServiceId = "svc" }),
        Options.Create(new AdoNetClusteringSiloOptions { Invariant = AdoNetMembership.Invariant, ConnectionString = _cs }),
        NullLogger<AdoNetClusteringTable>.Instance);

    private static MembershipEntry Entry(int port, SiloStatus status, DateTime? time = null)
    {
        var t = time ?? DateTime.UtcNow;
        return new MembershipEntry
        {
            SiloAddress = SiloAddress.New(IPAddress.Loopback, port, 1000 + port),
            SiloName = $"silo-{port}",
            HostName = "testhost",
            Status = status,
            ProxyPort = port + 1,
            StartTime = t,
            IAmAliveTime = t,
        };
    }

    [Fact]
    public async Task Insert_read_update_heartbeat_and_delete_follow_the_membership_protocol()
    {
        await _table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        await NewTable().InitializeMembershipTableAsync(tryInitTableVersion: true); // a second silo: the version row exists

        var empty = await _table.ReadAllAsync();
        Assert.Empty(empty.Members);
        Assert.Equal(0, empty.Version.Version);

        // Insert with the version just read: accepted, version bumped.
        var a = Entry(11001, SiloStatus.Joining);
        Assert.True(await _table.InsertRowAsync(a, empty.Version.Next()));
        var afterA = await _table.ReadAllAsync();
        Assert.Equal(1, afterA.Version.Version);

        // A stale version, or a row that exists already: refused, and nothing changes (not even the version).
        Assert.False(await _table.InsertRowAsync(Entry(11002, SiloStatus.Joining), empty.Version.Next()));
        Assert.False(await _table.InsertRowAsync(a, afterA.Version.Next()));
        Assert.Equal(1, (await _table.ReadAllAsync()).Version.Version);

        // Read back one row: every field survives, times to the millisecond, as UTC.
        var row = await _table.ReadRowAsync(a.SiloAddress);
        var (read, etag) = Assert.Single(row.Members);
        Assert.Equal(a.SiloAddress, read.SiloAddress);
        Assert.Equal(("silo-11001", "testhost", SiloStatus.Joining, 11002), (read.SiloName, read.HostName, read.Status, read.ProxyPort));
        Assert.InRange((read.StartTime - a.StartTime).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));
        Assert.InRange((read.IAmAliveTime.ToUniversalTime() - a.IAmAliveTime).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));

        // Heartbeat: only IAmAliveTime changes; the version does not.
        var beat = DateTime.UtcNow.AddSeconds(5);
        await _table.UpdateIAmAliveAsync(new MembershipEntry { SiloAddress = a.SiloAddress, IAmAliveTime = beat });
        var afterBeat = await _table.ReadRowAsync(a.SiloAddress);
        Assert.Equal(1, afterBeat.Version.Version);
        Assert.InRange((afterBeat.Members[0].Item1.IAmAliveTime.ToUniversalTime() - beat).Duration(), TimeSpan.Zero, TimeSpan.FromMilliseconds(1));

        // Update (status + a suspicion) with the current etag: accepted, version bumped.
        var b = Entry(11003, SiloStatus.Active);
        read.Status = SiloStatus.Active;
        read.SuspectTimes = [Tuple.Create(b.SiloAddress, DateTime.UtcNow)];
        Assert.True(await _table.UpdateRowAsync(read, etag, row.Version.Next()));
        var updated = await _table.ReadRowAsync(a.SiloAddress);
        Assert.Equal(2, updated.Version.Version);
        Assert.Equal(SiloStatus.Active, updated.Members[0].Item1.Status);
        Assert.Equal(b.SiloAddress, Assert.Single(updated.Members[0].Item1.SuspectTimes!).Item1);

        // Stale etag: refused. A row that does not exist: refused, and the version stays.
        Assert.False(await _table.UpdateRowAsync(read, etag, row.Version.Next()));
        Assert.False(await _table.UpdateRowAsync(b, updated.Members[0].Item2, updated.Version.Next()));
        Assert.Equal(2, (await _table.ReadAllAsync()).Version.Version);

        // Gateways: active silos with a proxy port, via the client-side provider.
        var gateways = new AdoNetGatewayListProvider(NullLogger<AdoNetGatewayListProvider>.Instance, _services,
            Options.Create(new AdoNetClusteringClientOptions { Invariant = AdoNetMembership.Invariant, ConnectionString = _cs }),
            Options.Create(new GatewayOptions()), Options.Create(new ClusterOptions { ClusterId = ClusterId, ServiceId = "svc" }));
        await gateways.InitializeGatewayListProviderAsync();
        var gw = Assert.Single(await gateways.GetGatewaysAsync());
        Assert.Equal(11002, gw.Port);

        // Delete the whole cluster's rows.
        await _table.DeleteMembershipTableEntriesAsync(ClusterId);
        Assert.Equal(0L, await Membership.ScalarAsync<long>(_cs, "SELECT count(*) FROM OrleansMembershipTable"));
        Assert.Equal(0L, await Membership.ScalarAsync<long>(_cs, "SELECT count(*) FROM OrleansMembershipVersionTable"));
    }

    [Fact]
    public async Task Cleanup_removes_only_dead_rows_older_than_the_cutoff()
    {
        await _table.InitializeMembershipTableAsync(tryInitTableVersion: true);
        var old = DateTime.UtcNow.AddDays(-3);
        var rows = new[]
        {
            Entry(12001, SiloStatus.Dead, old),    // expired: goes
            Entry(12002, SiloStatus.Active, old),  // active, however old: stays
            Entry(12003, SiloStatus.Dead),         // dead but recent: stays
        };
        foreach (var e in rows)
        {
            var v = (await _table.ReadAllAsync()).Version;
            Assert.True(await _table.InsertRowAsync(e, v.Next()));
        }
        var versionBefore = (await _table.ReadAllAsync()).Version.Version;

        await _table.CleanupDefunctSiloEntriesAsync(DateTimeOffset.UtcNow.AddDays(-1));

        var left = await _table.ReadAllAsync();
        Assert.Equal([12002, 12003], left.Members.Select(m => m.Item1.SiloAddress.Endpoint.Port).Order());
        Assert.Equal(versionBefore, left.Version.Version);
    }
}
