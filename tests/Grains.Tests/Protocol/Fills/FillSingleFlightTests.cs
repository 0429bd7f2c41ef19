using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.Fills;
using Microsoft.Extensions.Time.Testing;

namespace CacheCluster.Grains.Tests.Protocol.Fills;

/// <summary>The single-flight of one URL on its owner, on a fake clock: roles, states, the stall and wait limits, stale ids.</summary>
public class FillSingleFlightTests
{
    private const int ChunkBytes = 8;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
    private readonly FillSingleFlight _fills;
    private long _generations = 100;

    public FillSingleFlightTests() => _fills = new FillSingleFlight(() => ++_generations, () => 7, ChunkBytes, _time);

    private static EntryHead Head(string key = "k") => new()
    {
        CacheKey = key, Status = 200, Headers = [], RequestTimeUnixMs = 0, ResponseTimeUnixMs = 0, LifetimeMs = 1000, InitialAgeMs = 0, BodyLength = -1,
    };

    private (FillRole Role, Fill Fill) Lead(string key = "k")
    {
        var role = _fills.Join(key, out var replaced);
        Assert.Null(replaced);
        Assert.True(role.IsLeader);
        return (role, _fills.Current(role.FillId)!);
    }

    [Fact]
    public void The_first_caller_leads_and_every_later_one_follows_the_same_fill()
    {
        var (leader, fill) = Lead();
        Assert.Equal(ChunkBytes, leader.ChunkBytes);
        Assert.Equal(FillState.Running, fill.State);
        Assert.Equal(101, fill.Generation);
        Assert.Equal(7, fill.Floor);
        for (int i = 0; i < 3; i++)
        {
            var follower = _fills.Join("k", out _);
            Assert.False(follower.IsLeader);
            Assert.Equal(leader.FillId, follower.FillId);
        }
    }

    [Fact]
    public async Task Followers_get_the_published_head_under_the_fill_generation_and_chunks_as_they_arrive()
    {
        var (role, fill) = Lead();
        var outcome = _fills.FollowAsync(role.FillId);
        var chunk0 = _fills.WaitForChunkAsync(fill, 0);
        Assert.False(outcome.IsCompleted);
        Assert.False(chunk0.IsCompleted);

        Assert.Equal(FillAck.Accepted, _fills.Publish(role.FillId, new FillOutcome(FillOutcomeKind.Stream, Head()), out var ended));
        Assert.False(ended);
        var published = await outcome;
        Assert.Equal(FillOutcomeKind.Stream, published.Kind);
        Assert.Equal(fill.Generation, published.Head!.Generation);

        var bytes = new byte[ChunkBytes];
        _fills.AfterChunk(_fills.BeforeChunk(role.FillId, 0, bytes.Length)!, bytes);
        Assert.Equal(ChunkWait.Available, await chunk0);
        Assert.Same(bytes, fill.FirstChunk);
        var chunk1 = _fills.WaitForChunkAsync(fill, 1);
        Assert.False(chunk1.IsCompleted);

        _fills.Committed(fill, published.Head with { BodyLength = ChunkBytes, ChunkCount = 1 });
        Assert.Equal(ChunkWait.EndOfBody, await chunk1);
        Assert.Equal(FillState.Done, fill.State);
        Assert.Null(fill.FirstChunk); // an ended fill holds no body bytes outside the store
        Assert.Null(_fills.Running);
        // A late follower still finds the ended fill, with the committed head.
        Assert.Same(fill, _fills.Find(role.FillId));
        Assert.Equal(1, (await _fills.FollowAsync(role.FillId)).Head!.ChunkCount);
    }

    [Fact]
    public async Task An_outcome_other_than_stream_ends_the_fill_and_is_what_followers_act_on()
    {
        var (role, fill) = Lead();
        var outcome = _fills.FollowAsync(role.FillId);
        Assert.Equal(FillAck.Accepted, _fills.Publish(role.FillId, new FillOutcome(FillOutcomeKind.Error, ErrorStatus: 502, ErrorMessage: "down"), out var ended));
        Assert.True(ended);
        Assert.Equal(FillState.Done, fill.State);
        Assert.Equal(502, (await outcome).ErrorStatus);
        Assert.True(_fills.Join("k", out _).IsLeader); // the next request starts a new fill
    }

    [Fact]
    public async Task A_stale_fill_id_is_answered_not_current_and_changes_nothing()
    {
        var (old, oldFill) = Lead();
        _fills.End(oldFill, lost: true);
        var (current, fill) = Lead();
        Assert.NotEqual(old.FillId, current.FillId);

        Assert.Null(_fills.Current(old.FillId));
        Assert.Equal(FillAck.NotCurrent, _fills.Publish(old.FillId, new FillOutcome(FillOutcomeKind.Stream, Head()), out var ended));
        Assert.False(ended);
        Assert.Null(_fills.BeforeChunk(old.FillId, 0, 1));
        Assert.Null(fill.Head);
        Assert.Equal(FillState.Running, fill.State);
        // Followers of the lost fill are told to fetch on their own; never a chunk of it.
        Assert.Equal(FillOutcomeKind.Pass, (await _fills.FollowAsync(old.FillId)).Kind);
        Assert.Equal(ChunkWait.Gone, await _fills.WaitForChunkAsync(oldFill, 0));
        Assert.Equal(FillOutcomeKind.Pass, (await _fills.FollowAsync(12345)).Kind);
    }

    [Fact]
    public void Chunks_out_of_order_or_of_a_wrong_size_are_leader_bugs()
    {
        var (role, _) = Lead();
        Assert.Throws<InvalidOperationException>(() => _fills.BeforeChunk(role.FillId, 1, 1));
        Assert.Throws<ArgumentException>(() => _fills.BeforeChunk(role.FillId, 0, ChunkBytes + 1));
        Assert.Throws<ArgumentException>(() => _fills.BeforeChunk(role.FillId, 0, 0));
    }

    [Fact]
    public async Task A_fill_without_progress_for_the_stall_limit_is_replaced_and_its_followers_are_cut_off()
    {
        var (stalled, fill) = Lead();
        Assert.Equal(FillAck.Accepted, _fills.Publish(stalled.FillId, new FillOutcome(FillOutcomeKind.Stream, Head()), out _));
        var waiting = _fills.WaitForChunkAsync(fill, 0);

        // Just under the limit it is alive: callers follow it, and progress resets the clock.
        _time.Advance(FillLimits.StallLimit - TimeSpan.FromSeconds(1));
        Assert.False(fill.Stalled);
        Assert.False(_fills.Join("k", out _).IsLeader);
        _fills.AfterChunk(_fills.BeforeChunk(stalled.FillId, 0, 1)!, [1]);
        Assert.Equal(ChunkWait.Available, await waiting);

        waiting = _fills.WaitForChunkAsync(fill, 1);
        _time.Advance(FillLimits.StallLimit + TimeSpan.FromSeconds(1));
        Assert.True(fill.Stalled);
        Assert.Equal(ChunkWait.Gone, await waiting.WaitAsync(TimeSpan.FromSeconds(10)));

        var next = _fills.Join("k", out var replaced);
        Assert.Same(fill, replaced);
        Assert.True(next.IsLeader);
        Assert.NotEqual(stalled.FillId, next.FillId);
        Assert.Equal(FillState.Lost, fill.State);
        Assert.False(fill.Stalled); // ended fills are lost, not stalled
        // The stalled leader wakes up: everything it sends is stale.
        Assert.Equal(FillAck.NotCurrent, _fills.Publish(stalled.FillId, FillOutcome.Pass, out _));
        Assert.Null(_fills.BeforeChunk(stalled.FillId, 1, 1));
    }

    [Fact]
    public async Task A_follower_that_starts_waiting_late_is_cut_off_when_the_fill_stalls_not_a_full_limit_later()
    {
        var (role, fill) = Lead();
        _fills.Publish(role.FillId, new FillOutcome(FillOutcomeKind.Stream, Head()), out _);
        _time.Advance(FillLimits.StallLimit - TimeSpan.FromSeconds(1));
        var waiting = _fills.WaitForChunkAsync(fill, 0);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(ChunkWait.Gone, await waiting.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_follower_waits_for_the_outcome_at_most_the_follow_wait()
    {
        var (role, _) = Lead();
        var outcome = _fills.FollowAsync(role.FillId);
        _time.Advance(FillLimits.FollowWait - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.False(outcome.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(FillOutcomeKind.Pass, (await outcome.WaitAsync(TimeSpan.FromSeconds(10))).Kind);
        Assert.NotNull(_fills.Running); // the fill itself goes on: only this follower gave up
    }

    [Fact]
    public async Task A_refreshed_fill_streams_the_stored_body_and_a_vary_fill_sends_followers_back()
    {
        var (role, fill) = Lead();
        var stored = Head() with { Generation = 55, ChunkCount = 3, BodyLength = 20 };
        _fills.Refreshed(fill, stored);
        Assert.Equal(55, fill.Generation);
        Assert.Equal(ChunkWait.Available, await _fills.WaitForChunkAsync(fill, 2));
        Assert.Equal(ChunkWait.EndOfBody, await _fills.WaitForChunkAsync(fill, 3));
        Assert.Equal(stored, (await _fills.FollowAsync(role.FillId)).Head);

        var (varyRole, varyFill) = Lead();
        var marker = VaryMarker.Create("k", ["Accept"], "E", "k\nE\nAccept:x", 0);
        _fills.VaryCommitted(varyFill, marker);
        Assert.Equal(FillOutcomeKind.Vary, (await _fills.FollowAsync(varyRole.FillId)).Kind);
    }
}
