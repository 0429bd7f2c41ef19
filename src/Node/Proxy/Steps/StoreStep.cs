using CacheCluster.Contracts.Entries;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Compression;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 7. Store? Decided from the response before any byte goes to the client (only the leader of a fill stores). A
/// response that varies is stored as the variant this request selects (<see cref="VariantPlacement"/>).
/// Followers are told at once: Stream (they stream it from the owner as it is stored) or Pass (fetch yourselves).
/// </summary>
public sealed class StoreStep(RuntimePolicy policy, VariantPlacement placement, CompressionPolicy compression)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        if (r.Fill is not { } fill) return Step.Deliver;
        var ctx = r.Context;
        var response = r.OriginResponse!;
        bool storable = Storability.Decide(ctx.Request.Method, ctx.Request.Headers.Authorization.Count > 0, r.RequestCc, r.OriginStatus,
            r.ResponseHeaders, r.Framing, r.RequestTime, r.ResponseTime, policy.Freshness, r.Target.CacheKey, out var facts, out var notStored);
        FillLeader? storeWith = fill;
        if (storable)
        {
            (storeWith, var key, notStored) = await placement.PlaceAsync(ctx, r.Target.CacheKey, fill, r.ResponseHeaders, r.Varies);
            if (key != r.Target.CacheKey) r.Target = r.Target with { CacheKey = key };
            // The URL's own fill ended with the Vary marker: the variant's fill is the one this request leads now.
            if (storeWith is not null) r.Fill = storeWith;
        }
        if (storable && storeWith is not null && notStored is null)
        {
            // Followers start streaming this response as soon as it is published.
            await storeWith.PublishAsync(new FillOutcome(FillOutcomeKind.Stream,
                EntryHeads.New(r.Target.CacheKey, response, r.ResponseHeaders, facts, r.RequestTime, r.ResponseTime)));
        }
        else
        {
            await fill.PublishAsync(FillOutcome.Pass);
        }
        r.Storing = r.Fill is { Active: true };
        r.StoredFacts = facts;
        r.NotStored = notStored;
        // Stored, so later clients may get a compressed form of it: this identity answer varies on Accept-Encoding too.
        if (r.Storing) r.ResponseHeaders = compression.WithVary(r.OriginStatus, r.ResponseHeaders, r.Framing.Length ?? -1);
        return Step.Deliver;
    }
}
