using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// stale-while-revalidate (RFC 5861 3), after the client already got the stale entry (<see cref="ServeStaleStep"/>):
/// fetches a fresh one with no client waiting. It leads an ordinary fill, so a revalidation already under way
/// anywhere in the cluster makes this one a no-op; a 304 refreshes the stored head, as the foreground does.
/// </summary>
public sealed class BackgroundRevalidation(NodeSettings settings, RuntimePolicy policy, OriginClient origin, ILogger<BackgroundRevalidation> logger)
{
    /// <summary>Starts the revalidation; <paramref name="request"/> is built from the client's request before it ends.</summary>
    public void Start(HttpRequestMessage request, string cacheKey, ICacheEntryGrain owner, EntryHead stale, VaryContext? varies) =>
        _ = Task.Run(() => RunAsync(request, cacheKey, owner, stale, varies));

    private async Task RunAsync(HttpRequestMessage request, string cacheKey, ICacheEntryGrain owner, EntryHead stale, VaryContext? varies)
    {
        using var upstream = request;
        if (await OwnerLookup.BeginFillAsync(owner, cacheKey, stale.StoredAtUnixMs) is not { IsLeader: true } role)
            return; // already under way, or already refreshed (or the owner is unreachable)

        var rules = policy.Freshness;
        var fill = new FillLeader(owner, role, rules.MaxObjectBytes);
        try
        {
            UpstreamMessages.AddValidators(request, stale);
            using var timeout = new CancellationTokenSource(settings.Proxy.OriginTimeout);
            var requestTime = DateTimeOffset.UtcNow;
            using var response = await origin.SendAsync(request, timeout.Token);
            var responseTime = DateTimeOffset.UtcNow;
            var framing = BodyFraming.Of(response);
            var headers = UpstreamMessages.ResponseHeaders(response);
            var status = (int)response.StatusCode;
            if (status == StatusCodes.Status304NotModified)
            {
                // A 304 naming another representation freshens nothing (RFC 9111 4.3.4); the next request refetches.
                if (Validators.NotModifiedFreshens(stale.Headers, headers))
                    await fill.RefreshAsync(EntryHeads.Refreshed(stale, headers, requestTime, responseTime, rules));
                else await fill.PublishAsync(FillOutcome.Pass);
                return;
            }
            bool storable = Storability.Decide("GET", request.Headers.Authorization is not null, CacheControl.Empty, status, headers, framing,
                requestTime, responseTime, rules, cacheKey, out var facts, out _);
            // A changed Vary is left to the next foreground fetch, which re-places the URL's variants.
            var names = Vary.Names(headers, out _);
            bool varyChanged = varies is null ? names.Length > 0 : names.Length > 0 && !Vary.SameNames(names, varies.Names);
            if (!storable || varyChanged)
            {
                await fill.PublishAsync(FillOutcome.Pass); // e.g. a 5xx: the stale entry stays
                return;
            }
            await fill.PublishAsync(new FillOutcome(FillOutcomeKind.Stream, EntryHeads.New(cacheKey, response, headers, facts, requestTime, responseTime)));
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            await fill.FillFromAsync(body, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            logger.LogInformation("Background revalidation of {Key} failed: {Message}", cacheKey, ex.Message);
        }
        finally
        {
            if (fill.Active) await fill.AbortAsync();
        }
    }
}
