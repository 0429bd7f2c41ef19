using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using Microsoft.Extensions.Time.Testing;

namespace CacheCluster.Grains.Tests.Protocol.HotCopies;

/// <summary>A node's hot copies: the owner's drop wins over a copy still on its way, and nothing is held past its limits.</summary>
public class HotEntriesTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));

    private static EntryHead Head(string key, long length = 10) => new()
    {
        CacheKey = key, Status = 200, Headers = [], RequestTimeUnixMs = 0, ResponseTimeUnixMs = 0, LifetimeMs = 1000, InitialAgeMs = 0, BodyLength = length,
    };

    private DateTime Now => _time.GetUtcNow().UtcDateTime;

    [Fact]
    public void A_drop_that_arrives_during_a_lookup_refuses_the_copy_that_lookup_brings_back()
    {
        var hot = new HotEntries(1 << 20, 1 << 16, _time);
        var lookupStarted = Now;
        _time.Advance(TimeSpan.FromMilliseconds(1));
        hot.Drop("k"); // the owner's drop overtakes the lookup's answer
        _time.Advance(TimeSpan.FromMilliseconds(1));
        hot.Add("k", Head("k"), [new byte[10]], TimeSpan.FromMinutes(5), lookupStarted);
        Assert.False(hot.TryGet("k", out _));
        Assert.Equal(0, hot.Count);
        Assert.Equal(0, hot.Bytes);

        // A lookup that began after the drop saw the new entry: its copy is good.
        var later = Now;
        hot.Add("k", Head("k"), [new byte[10]], TimeSpan.FromMinutes(5), later);
        Assert.True(hot.TryGet("k", out var entry));
        Assert.Equal(10, entry.Head.BodyLength);
    }

    [Fact]
    public void A_drop_removes_a_held_copy_and_its_bytes()
    {
        var hot = new HotEntries(1 << 20, 1 << 16, _time);
        hot.Add("k", Head("k"), [new byte[10]], TimeSpan.FromMinutes(5), Now);
        Assert.True(hot.Bytes > 0);
        hot.Drop("k");
        Assert.False(hot.TryGet("k", out _));
        Assert.Equal(0, hot.Bytes);
    }

    [Fact]
    public void A_copy_lives_at_most_max_hold_or_its_freshness()
    {
        var hot = new HotEntries(1 << 20, 1 << 16, _time);
        hot.Add("long", Head("long"), [new byte[10]], TimeSpan.FromHours(1), Now);
        hot.Add("short", Head("short"), [new byte[10]], TimeSpan.FromSeconds(5), Now);
        hot.Add("stale", Head("stale"), [new byte[10]], TimeSpan.Zero, Now);
        Assert.False(hot.TryGet("stale", out _));
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.False(hot.TryGet("short", out _));
        Assert.True(hot.TryGet("long", out _));
        _time.Advance(HotEntries.MaxHold);
        Assert.False(hot.TryGet("long", out _)); // the owner may have died: ask it again
        Assert.Equal(0, hot.Bytes);
    }

    [Fact]
    public void Over_budget_a_copy_pushes_out_the_oldest_only_if_requested_more_often_and_too_large_objects_are_never_copied()
    {
        var one = new HotEntries.HotEntry(Head("x", 1000), [], DateTime.MaxValue).Size;
        var hot = new HotEntries(one * 2, 4096, _time);
        foreach (var k in new[] { "a", "b", "c", "d" }) { hot.Sighted(k); hot.Sighted(k); }
        hot.Add("a", Head("a", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        hot.Add("b", Head("b", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        // "c" was requested as often as "a": the copies held stay.
        hot.Add("c", Head("c", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        Assert.False(hot.TryGet("c", out _));
        Assert.True(hot.TryGet("a", out _));
        Assert.True(hot.TryGet("b", out _));
        // "d" is requested more often than the oldest copy ("a", now at 3): it replaces it.
        for (int i = 0; i < 3; i++) hot.Sighted("d");
        Assert.True(hot.Sighted("d"));
        hot.Add("d", Head("d", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        Assert.True(hot.TryGet("d", out _));
        Assert.False(hot.TryGet("a", out _));
        Assert.True(hot.TryGet("b", out _));
        Assert.True(hot.Bytes <= one * 2);
        Assert.Equal(2, hot.Count);
        Assert.False(hot.Fits(Head("big", 4097)));
        hot.Add("big", Head("big", 4097), [new byte[4097]], TimeSpan.FromMinutes(1), Now);
        Assert.False(hot.TryGet("big", out _));
    }

    [Fact]
    public void A_key_seen_once_is_not_worth_a_copy_when_the_budget_is_full()
    {
        var one = new HotEntries.HotEntry(Head("x", 1000), [], DateTime.MaxValue).Size;
        var hot = new HotEntries(one, 4096, _time);
        hot.Sighted("hot"); hot.Sighted("hot"); hot.Sighted("hot");
        hot.Add("hot", Head("hot", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        Assert.False(hot.Sighted("cold"));
        Assert.False(hot.Sighted("cold")); // twice, but "hot" was asked three times
        hot.Add("cold", Head("cold", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        Assert.True(hot.TryGet("hot", out _));
        Assert.False(hot.TryGet("cold", out _));
    }

    [Fact]
    public void A_replaced_copy_takes_the_place_of_the_old_one_without_pushing_others_out()
    {
        var one = new HotEntries.HotEntry(Head("x", 1000), [], DateTime.MaxValue).Size;
        var hot = new HotEntries(one * 2, 4096, _time);
        hot.Add("a", Head("a", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        hot.Add("b", Head("b", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        hot.Add("b", Head("b", 1000), [new byte[1000]], TimeSpan.FromMinutes(1), Now);
        Assert.True(hot.TryGet("a", out _));
        Assert.True(hot.TryGet("b", out _));
        Assert.Equal(2, hot.Count);
        Assert.Equal(one * 2, hot.Bytes);
    }

    [Fact]
    public void A_key_takes_a_copy_from_its_second_sighting_and_a_disabled_cache_never_does()
    {
        var hot = new HotEntries(1 << 20, 1 << 16, _time);
        Assert.False(hot.Sighted("k"));
        Assert.True(hot.Sighted("k"));
        Assert.False(new HotEntries(0, 1 << 16, _time).Sighted("k"));
    }

    [Fact]
    public void A_dropped_or_expired_copy_leaves_no_bytes_held()
    {
        var hot = new HotEntries(1 << 20, 1 << 16, _time);
        var (dropped, expired) = AddTwo(hot);
        hot.Drop("dropped");
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(hot.TryGet("expired", out _));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(dropped.IsAlive, "a dropped copy's body is still held");
        Assert.False(expired.IsAlive, "an expired copy's body is still held");
        Assert.Equal(0, hot.Bytes);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private (WeakReference, WeakReference) AddTwo(HotEntries hot)
    {
        byte[] a = new byte[10], b = new byte[10];
        hot.Add("dropped", Head("dropped"), [a], TimeSpan.FromMinutes(5), Now);
        hot.Add("expired", Head("expired"), [b], TimeSpan.FromSeconds(5), Now);
        return (new WeakReference(a), new WeakReference(b));
    }
}
