using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.Policy.Runtime;

namespace CacheCluster.Node.ClusterClient;

/// <summary>A request for a varying URL: the URL's owner (holding the Vary marker) and what the marker says.</summary>
public sealed record VaryContext(ICacheEntryGrain UrlOwner, string Epoch, List<string> Names);

/// <summary>
/// Vary (RFC 9111 4.1): the variant a request selects is an entry of its own, under a key derived from the URL's
/// marker and the request's values of the headers the response varies on.
/// </summary>
public sealed class VariantPlacement(EntryOwners owners, RuntimePolicy policy, ILogger<VariantPlacement> logger)
{
    public static string VariantKeyFor(HttpContext ctx, string urlKey, EntryHead marker) =>
        VaryMarker.VariantKey(urlKey, VaryMarker.Epoch(marker), VaryMarker.Names(marker), name => RequestValue(ctx, name));

    private static string? RequestValue(HttpContext ctx, string name) =>
        Vary.NormalizedValue(ctx.Request.Headers[name]);

    /// <summary>
    /// Where a storable response goes when it may vary. Returns the fill to store it with (null: do not
    /// store, with the reason), and the key it is stored under.
    /// <list type="bullet">
    /// <item>The URL's own fill and the response varies: this is the URL's first varying response. The fill
    /// of this request's variant begins first, then the URL's fill ends with the Vary marker, so followers
    /// that select the same variant find that fill running and collapse onto it.</item>
    /// <item>A variant's fill: the response must vary on the same headers (or not at all) and is registered
    /// under the marker, so invalidating the URL removes it. If the origin changed what it varies on, the
    /// URL's marker and variants are dropped and the next request learns anew.</item>
    /// </list>
    /// </summary>
    public async Task<(FillLeader? Fill, string CacheKey, string? NotStored)> PlaceAsync(
        HttpContext ctx, string cacheKey, FillLeader fill, string[] responseHeaders, VaryContext? varies)
    {
        var names = Vary.Names(responseHeaders, out _);
        if (varies is null)
        {
            if (names.Length == 0) return (fill, cacheKey, null);
            var epoch = VaryMarker.NewEpoch();
            var variantKey = VaryMarker.VariantKey(cacheKey, epoch, names, name => RequestValue(ctx, name));
            var variantOwner = owners.For(variantKey);
            FillRole role;
            try { role = await variantOwner.BeginFillAsync(variantKey, 0); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return (null, cacheKey, "vary-owner-unreachable"); }
            var variantFill = role.IsLeader ? new FillLeader(variantOwner, role, policy.Freshness.MaxObjectBytes) : null;
            var marker = VaryMarker.Create(cacheKey, names, epoch, variantKey, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            if (variantFill is null || !await fill.CommitVaryAsync(marker))
            {
                if (variantFill is not null) await variantFill.AbortAsync();
                return (null, cacheKey, "vary-raced");
            }
            return (variantFill, variantKey, null);
        }
        if (names.Length > 0 && !Vary.SameNames(names, varies.Names))
        {
            logger.LogInformation("{Url} now varies on {Names} (was {Old}); its variants are dropped", VaryMarker.UrlKeyOf(cacheKey),
                string.Join(", ", names), string.Join(", ", varies.Names));
            try { await varies.UrlOwner.InvalidateAsync(); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { /* its variants stay unreachable until it is */ }
            return (null, cacheKey, "vary-changed");
        }
        bool registered;
        try { registered = await varies.UrlOwner.RegisterVariantAsync(varies.Epoch, cacheKey); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { registered = false; }
        return registered ? (fill, cacheKey, null) : (null, cacheKey, "vary-limit");
    }
}
