using System.Runtime.CompilerServices;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Compression;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 3b. Ask the entry's owner: it answers with the entry head and its first chunk in one call (and a fill role
/// when the request may fill and nothing fresh is stored). 3c. A URL that varies (RFC 9111 4.1) answers with
/// its Vary marker: the variant this request selects is an entry of its own, asked of its own owner.
/// Then: fresh → hit; stale → serve stale or expired; nothing → miss; owner unreachable → fetch, uncached.
/// </summary>
public sealed class LookUpStep(EntryOwners owners, HotEntries hot, ILocalSiloDetails localSilo, OwnerLookup lookup, RuntimePolicy policy,
    StoredHead head, CompressionPolicy compression)
{
    private readonly string _localNode = localSilo.SiloAddress.ToParsableString();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: a hit that waits on the socket allocates no box
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        // A second request for this key on this node also takes a hot copy.
        var owner = owners.For(r.Target.CacheKey);
        r.LookupStarted = DateTime.UtcNow;
        r.HotNode = hot.Sighted(r.Target.CacheKey) ? _localNode : null;
        var found = await lookup.LookUpAsync(owner, r.Target.CacheKey, r.MayFill, r.HotNode);
        r.Reason = ForwardReason.UriMiss;
        if (found?.Head is { } marker && VaryMarker.Is(marker))
        {
            if (r.HotNode is not null) hot.Add(r.Target.CacheKey, marker, [], HotEntries.MaxHold, r.LookupStarted);
            r.Varies = new VaryContext(owner, VaryMarker.Epoch(marker), VaryMarker.Names(marker));
            r.Target = r.Target with { CacheKey = VariantPlacement.VariantKeyFor(ctx, r.Target.CacheKey, marker) };
            owner = owners.For(r.Target.CacheKey);
            r.HotNode = hot.Sighted(r.Target.CacheKey) ? _localNode : null;
            found = await lookup.LookUpAsync(owner, r.Target.CacheKey, r.MayFill, r.HotNode);
            r.Reason = ForwardReason.VaryMiss;
        }
        if (found is null)
        {
            // The owner is unreachable even after a retry: serve the user from the origin, uncached.
            r.Owner = null;
            r.Reason = ForwardReason.Bypass;
            return Step.Fetch;
        }
        r.Owner = owner;
        r.Found = found;
        r.Role = found.Fill;
        head.AddDebugHeaders(ctx, found.Owner);
        r.AnsweredFrom(found.Owner); // access log
        if (found.Head is not { } entry) return Step.Miss;

        var facts = EntryHeads.FactsOf(entry);
        var responseTime = DateTimeOffset.FromUnixTimeMilliseconds(entry.ResponseTimeUnixMs);
        var verdict = HitDecision.Evaluate(facts, responseTime, r.RequestCc, r.PragmaNoCache, DateTimeOffset.UtcNow, policy.Freshness,
            out var age, out var ttl);
        (r.Age, r.Ttl) = (age, ttl);
        if (verdict != HitVerdict.Stale)
            return (r.Coding = compression.CodingFor(ctx.Request, r.RequestCc, entry)) is null ? Step.Hit : Step.Encode;
        if (r.MayFill && HitDecision.CanServeWhileRevalidating(facts, responseTime, r.RequestCc, r.PragmaNoCache, DateTimeOffset.UtcNow, out _))
            return Step.ServeStale;
        return Step.Expired;
    }
}
