using System.Reflection;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Proxy.Steps;
using Microsoft.AspNetCore.Http;

namespace CacheCluster.Node.Tests.Proxy.Steps;

/// <summary>
/// A request whose entry keeps changing under it (refreshed by fills that just ended, or a URL that turns out to
/// vary again and again) looks up again at most <see cref="ProxyRequest.RestartLimit"/> times, then is answered
/// from the origin without the cache's help: it never loops, and never waits for ever.
/// </summary>
public class RestartLimitTests
{
    private const string Key = "http://origin.test/changing";

    [Fact]
    public async Task An_entry_that_keeps_changing_is_fetched_after_the_restart_limit()
    {
        var owner = ChangingOwner.Create(out var asked);
        var r = NewRequest(owner);
        var expired = new ExpiredStep();
        var steps = new List<Step>();
        for (int i = 0; i < 10; i++)
        {
            var next = await expired.RunAsync(r);
            steps.Add(next);
            if (next != Step.Restart) break;
            Assert.Equal(Step.HotCopy, RestartStep.Run(r));
            Assert.Equal(Key, r.Target.CacheKey);
            Assert.Null(r.Stale);
            r.Found = StaleLookup(owner); // what the next look-up finds: stale again
        }
        Assert.Equal([.. Enumerable.Repeat(Step.Restart, ProxyRequest.RestartLimit), Step.Miss], steps);
        Assert.Equal(ProxyRequest.RestartLimit + 1, asked.Count); // one ask per look-up
        Assert.Null(r.Role);  // neither leader nor follower: fetched for this client only
        Assert.Equal(ForwardReason.Stale, r.Reason);
    }

    [Fact]
    public async Task A_fill_that_keeps_turning_into_a_vary_marker_is_fetched_after_the_restart_limit()
    {
        var owner = ChangingOwner.Create(out _);
        var r = NewRequest(owner);
        r.Role = new FillRole(7, IsLeader: false, ChunkBytes: 1024);
        var follow = new FollowStep(null!, null!); // the Vary answer uses neither the follower's stream nor a head
        var steps = new List<Step>();
        for (int i = 0; i < 10; i++)
        {
            var next = await follow.RunAsync(r);
            steps.Add(next);
            if (next != Step.Restart) break;
            RestartStep.Run(r);
            r.Role = new FillRole(7 + i, IsLeader: false, ChunkBytes: 1024);
        }
        Assert.Equal([.. Enumerable.Repeat(Step.Restart, ProxyRequest.RestartLimit), Step.Fetch], steps);
        Assert.Null(r.Role);
    }

    private static ProxyRequest NewRequest(ICacheEntryGrain owner)
    {
        var target = new RequestTarget(new Uri(Key), Key, null);
        return new ProxyRequest(new DefaultHttpContext())
        {
            UrlTarget = target,
            Target = target,
            Cacheable = true,
            MayFill = true,
            Owner = owner,
            Found = StaleLookup(owner),
            Reason = ForwardReason.UriMiss,
        };
    }

    private static LookupResult StaleLookup(ICacheEntryGrain owner) => new(new EntryHead
    {
        CacheKey = Key, Status = 200, Headers = [], RequestTimeUnixMs = 0, ResponseTimeUnixMs = 0, LifetimeMs = 0, InitialAgeMs = 0,
        StoredAtUnixMs = 1,
    }, null);

    /// <summary>An owner whose entry was always just replaced by another fill, and whose fills always turn into a Vary marker.</summary>
    public class ChangingOwner : DispatchProxy
    {
        public List<string> Asked { get; } = [];

        public static ICacheEntryGrain Create(out List<string> asked)
        {
            var owner = Create<ICacheEntryGrain, ChangingOwner>();
            asked = ((ChangingOwner)(object)owner).Asked;
            return owner;
        }

        protected override object? Invoke(MethodInfo? method, object?[]? args) => method?.Name switch
        {
            nameof(ICacheEntryGrain.BeginFillAsync) => Ask((string)args![0]!),
            nameof(ICacheEntryGrain.FollowAsync) => Task.FromResult(new FillOutcome(FillOutcomeKind.Vary)),
            _ => throw new NotSupportedException(method?.Name),
        };

        private Task<FillRole> Ask(string key)
        {
            Asked.Add(key);
            return Task.FromResult(new FillRole(1, IsLeader: false, ChunkBytes: 1024, EntryChanged: true));
        }
    }
}
