using System.Diagnostics;

namespace CacheCluster.Node.ClusterClient.Membership;

/// <summary>
/// Orleans' membership table (ADO.NET on PostgreSQL) with every call's outcome reported to
/// <see cref="ClusterDatabaseWatch"/>; the calls themselves are passed on unchanged.
/// </summary>
public sealed class WatchedMembershipTable(IMembershipTable inner, ClusterDatabaseWatch watch) : IMembershipTable
{
    private async Task<T> Watched<T>(Func<Task<T>> call)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            var result = await call();
            watch.Succeeded(started);
            return result;
        }
        catch (Exception ex)
        {
            watch.Failed(ex);
            throw;
        }
    }

    private Task Watched(Func<Task> call) => Watched(async () => { await call(); return true; });

    public Task InitializeMembershipTableAsync(bool tryInitTableVersion, CancellationToken cancellationToken) =>
        Watched(() => inner.InitializeMembershipTableAsync(tryInitTableVersion, cancellationToken));
    public Task DeleteMembershipTableEntriesAsync(string clusterId, CancellationToken cancellationToken) =>
        Watched(() => inner.DeleteMembershipTableEntriesAsync(clusterId, cancellationToken));
    public Task CleanupDefunctSiloEntriesAsync(DateTimeOffset beforeDate, CancellationToken cancellationToken) =>
        Watched(() => inner.CleanupDefunctSiloEntriesAsync(beforeDate, cancellationToken));
    public Task<MembershipTableData> ReadRowAsync(SiloAddress key, CancellationToken cancellationToken) => Watched(() => inner.ReadRowAsync(key, cancellationToken));
    public Task<MembershipTableData> ReadAllAsync(CancellationToken cancellationToken) => Watched(() => inner.ReadAllAsync(cancellationToken));
    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion tableVersion, CancellationToken cancellationToken) =>
        Watched(() => inner.InsertRowAsync(entry, tableVersion, cancellationToken));
    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion tableVersion, CancellationToken cancellationToken) =>
        Watched(() => inner.UpdateRowAsync(entry, etag, tableVersion, cancellationToken));
    public Task UpdateIAmAliveAsync(MembershipEntry entry, CancellationToken cancellationToken) => Watched(() => inner.UpdateIAmAliveAsync(entry, cancellationToken));

    // The interface's older forms (obsolete in Orleans 10), for callers that still use them.
    public Task InitializeMembershipTable(bool tryInitTableVersion) => InitializeMembershipTableAsync(tryInitTableVersion, CancellationToken.None);
    public Task DeleteMembershipTableEntries(string clusterId) => DeleteMembershipTableEntriesAsync(clusterId, CancellationToken.None);
    public Task CleanupDefunctSiloEntries(DateTimeOffset beforeDate) => CleanupDefunctSiloEntriesAsync(beforeDate, CancellationToken.None);
    public Task<MembershipTableData> ReadRow(SiloAddress key) => ReadRowAsync(key, CancellationToken.None);
    public Task<MembershipTableData> ReadAll() => ReadAllAsync(CancellationToken.None);
    public Task<bool> InsertRow(MembershipEntry entry, TableVersion tableVersion) => InsertRowAsync(entry, tableVersion, CancellationToken.None);
    public Task<bool> UpdateRow(MembershipEntry entry, string etag, TableVersion tableVersion) => UpdateRowAsync(entry, etag, tableVersion, CancellationToken.None);
    public Task UpdateIAmAlive(MembershipEntry entry) => UpdateIAmAliveAsync(entry, CancellationToken.None);
}
