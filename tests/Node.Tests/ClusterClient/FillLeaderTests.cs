using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.ClusterClient;
using Orleans.Concurrency;

namespace CacheCluster.Node.Tests.ClusterClient;

/// <summary>
/// What the owner receives from a fill's leader: whole chunks in order, handed over ahead of the client's copy (up to
/// a bound), the last chunk with the commit, one commit however often it is asked for. The owner here is a recorder
/// whose acknowledgements the test releases (end to end: StoreChurnTests, the fill and collapse tests).
/// </summary>
public class FillLeaderTests
{
    private const int Chunk = 1000;

    [Fact]
    public async Task Chunks_go_ahead_of_the_client_in_order_and_the_last_travels_with_the_single_commit()
    {
        var owner = new RecordingOwner();
        var fill = new FillLeader(owner, new FillRole(7, IsLeader: true, Chunk), maxBytes: 1 << 20);
        fill.ExpectLength(2500);
        var body = Enumerable.Range(0, 2500).Select(i => (byte)i).ToArray();
        for (int at = 0; at < body.Length; at += 300)
        {
            var adding = fill.AddAsync(body.AsMemory(at, Math.Min(300, body.Length - at)));
            Assert.True(adding.IsCompleted, "the client's copy did not wait for the owner"); // acks are held back
            Assert.True(await adding);
        }
        Assert.Equal([0], owner.Appended.Select(a => a.Index)); // the second waits for the first's answer
        var commit = fill.CommitAsync();
        Assert.Same(commit, fill.CommitAsync());
        Assert.False(fill.Active);

        owner.Release();
        Assert.True(await commit);
        Assert.Equal([0, 1], owner.Appended.Select(a => a.Index));
        Assert.All(owner.Appended, a => Assert.Equal(Chunk, a.Bytes.Length));
        var (length, last) = Assert.Single(owner.Commits);
        Assert.Equal(2500, length);
        Assert.Equal(500, last.Length);
        Assert.Equal(body, owner.Appended.SelectMany(a => a.Bytes).Concat(last));
    }

    [Fact]
    public async Task A_body_under_a_chunk_is_one_exact_array_sent_with_the_commit()
    {
        var (owner, fill) = Answering(expected: 120);
        Assert.True(await fill.AddAsync(new byte[120]));
        Assert.True(await fill.CommitAsync());
        Assert.Empty(owner.Appended);
        Assert.Equal(120, Assert.Single(owner.Commits).Last.Length);
    }

    [Fact]
    public async Task A_body_longer_than_declared_is_still_cut_into_whole_chunks()
    {
        var (owner, fill) = Answering(expected: 100);
        Assert.True(await fill.AddAsync(new byte[1500]));
        Assert.True(await fill.CommitAsync());
        Assert.Equal(Chunk, Assert.Single(owner.Appended).Bytes.Length);
        Assert.Equal(500, Assert.Single(owner.Commits).Last.Length);
    }

    [Fact]
    public async Task The_client_waits_for_the_owner_only_beyond_the_chunks_allowed_ahead()
    {
        var owner = new RecordingOwner();
        var fill = new FillLeader(owner, new FillRole(7, IsLeader: true, Chunk), maxBytes: 1 << 30);
        for (int i = 0; i < FillLeader.MaxChunksAhead; i++)
            Assert.True(fill.AddAsync(new byte[Chunk]).IsCompleted);
        var blocked = fill.AddAsync(new byte[Chunk]).AsTask();
        await Task.Delay(50);
        Assert.False(blocked.IsCompleted);
        owner.Release();
        Assert.True(await blocked.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    /// <summary>A leader whose owner answers at once, for a body declared <paramref name="expected"/> bytes long.</summary>
    private static (RecordingOwner Owner, FillLeader Fill) Answering(long expected)
    {
        var owner = new RecordingOwner();
        owner.Release();
        var fill = new FillLeader(owner, new FillRole(7, IsLeader: true, Chunk), maxBytes: 1 << 20);
        fill.ExpectLength(expected);
        return (owner, fill);
    }

    /// <summary>Records appends and commits; holds every answer until <see cref="Release"/>.</summary>
    private sealed class RecordingOwner : ICacheEntryGrain
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public List<(int Index, byte[] Bytes)> Appended { get; } = [];
        public List<(long Length, byte[] Last)> Commits { get; } = [];
        public void Release() => _released.TrySetResult();

        public async Task<FillAck> AppendChunkAsync(long fillId, int index, Immutable<byte[]> data)
        {
            lock (Appended) Appended.Add((index, data.Value));
            await _released.Task;
            return FillAck.Accepted;
        }

        public async Task<FillAck> CommitFillAsync(long fillId, long bodyLength, Immutable<byte[]> lastChunk)
        {
            lock (Commits) Commits.Add((bodyLength, lastChunk.Value));
            await _released.Task;
            return FillAck.Accepted;
        }

        public Task AbortFillAsync(long fillId) => Task.CompletedTask;
        public Task<LookupResult> LookupAsync(string cacheKey, bool wantFill, string? hotCopyNode = null) => throw new NotSupportedException();
        public Task<Immutable<byte[]?>> ReadChunkAsync(long generation, int index) => throw new NotSupportedException();
        public Task<FillRole> BeginFillAsync(string cacheKey, long seenStoredAtUnixMs) => throw new NotSupportedException();
        public Task<FillAck> PublishAsync(long fillId, FillOutcome outcome) => throw new NotSupportedException();
        public Task<FillAck> RefreshFillAsync(long fillId, EntryHead refreshed) => throw new NotSupportedException();
        public Task<FillAck> CommitVaryAsync(long fillId, EntryHead marker) => throw new NotSupportedException();
        public Task<bool> RegisterVariantAsync(string epoch, string variantKey) => throw new NotSupportedException();
        public Task<FillOutcome> FollowAsync(long fillId) => throw new NotSupportedException();
        public Task<FollowChunk> FollowChunkAsync(long fillId, long generation, int index) => throw new NotSupportedException();
        public Task<int> InvalidateAsync() => throw new NotSupportedException();
        public Task<EntryInfo> InspectAsync() => throw new NotSupportedException();
    }
}
