using System.Buffers;
using CacheCluster.Caching;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.Cache;
using CacheCluster.Node.Configuration;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// The path of one proxied request through the node, top to bottom:
/// receive → check policy → look up → hit / miss / pass → fetch → store → deliver.
/// </summary>
public sealed class ProxyHandler(
    NodeSettings settings,
    EntryOwners owners,
    HotEntries hot,
    ILocalSiloDetails localSilo,
    OriginClient origin,
    ConnectTunnel tunnel,
    CacheCluster.Node.Privacy.UpstreamHeaders upstreamHeaders,
    CacheCluster.Node.Runtime.RuntimePolicy policy,
    RangeContinuation continuation,
    CacheCluster.Node.Observability.ProxyCounters counters,
    ILogger<ProxyHandler> logger)
{
    private readonly ProxySettings _proxy = settings.Proxy;
    /// <summary>Freshness rules in force: the runtime policy can replace them while the node runs (management API).</summary>
    private FreshnessRules _rules => policy.Freshness;
    private readonly string _via = "1.1 " + settings.Proxy.ViaName;
    private readonly string _cacheName = settings.Proxy.CacheName;
    private readonly string _localNode = localSilo.SiloAddress.ToParsableString();

    public async Task HandleAsync(HttpContext ctx)
    {
        // 1. Receive: what is asked for.
        var method = ctx.Request.Method;
        if (HttpMethods.IsConnect(method))
        {
            await tunnel.HandleAsync(ctx);
            return;
        }
        if (!RequestTarget.TryParse(ctx, _proxy, out var target, out var error))
        {
            await ProxyErrors.WriteAsync(ctx, StatusCodes.Status400BadRequest, error, CacheStatus.Local(_cacheName, "bad-request"));
            return;
        }

        // 2. Policy: already checked before this handler runs (src/Node/Policy/RequestAdmission.cs).

        // 3. Look up: only GET and HEAD can be answered from the cache.
        var requestCc = ctx.Request.Headers.CacheControl.Count == 0
            ? CacheControl.Empty
            : CacheControl.Parse((IEnumerable<string?>)ctx.Request.Headers.CacheControl);
        bool lookup = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        // Only a GET may fill the cache (and so lead or follow a fill).
        bool mayFill = HttpMethods.IsGet(method) && !requestCc.NoStore && !requestCc.OnlyIfCached;
        ICacheEntryGrain? owner = null;
        FillRole? ticket = null;
        EntryHead? stale = null;
        VaryContext? varies = null;
        var reason = ForwardReason.Method;
        var urlTarget = target;
        int lookups = 0;
    lookUp: // again when the entry changed under us (refreshed, or the URL turned out to vary)
        lookups++;
        if (lookup)
        {
            target = urlTarget;
            (ticket, stale, varies) = (null, null, null);
            // 3a. This node's hot copy of a popular entry (of the request's variant, if the URL varies), if
            //     fresh enough: no owner round trip.
            if (hot.Enabled && hot.TryGet(target.CacheKey, out var hotEntry)
                && (!VaryMarker.Is(hotEntry.Head) || hot.TryGet(VariantKeyFor(ctx, target.CacheKey, hotEntry.Head), out hotEntry)))
            {
                var h = hotEntry.Head;
                if (HitDecision.Evaluate(FactsOf(h), DateTimeOffset.FromUnixTimeMilliseconds(h.ResponseTimeUnixMs), requestCc,
                        IsPragmaNoCache(ctx), DateTimeOffset.UtcNow, _rules, out var hotAge, out var hotTtl) != HitVerdict.Stale)
                {
                    if (_proxy.DebugHeaders) AddDebugHeaders(ctx, "hot-copy");
                    CacheCluster.Node.Observability.ProxyRequestInfo.SetOwner(ctx, "hot-copy"); // access log
                    if (ClientHasFreshCopy(ctx, h)) { WriteNotModified(ctx, h, hotAge, CacheStatus.Hit(_cacheName, hotTtl)); return; }
                    await DeliverHotAsync(ctx, hotEntry, hotAge, hotTtl);
                    return;
                }
            }

            // 3b. Ask the owner (a second request for this key here also takes a hot copy).
            owner = owners.For(target.CacheKey);
            var lookupStarted = DateTime.UtcNow;
            var hotNode = hot.Sighted(target.CacheKey) ? _localNode : null;
            var found = await LookUpAsync(owner, target.CacheKey, mayFill, hotNode);
            reason = ForwardReason.UriMiss;
            // 3c. The URL varies (RFC 9111 4.1): the variant this request selects is an entry of its own.
            if (found?.Head is { } marker && VaryMarker.Is(marker))
            {
                if (hotNode is not null) hot.Add(target.CacheKey, marker, [], HotEntries.MaxHold, lookupStarted);
                varies = new VaryContext(owner, VaryMarker.Epoch(marker), VaryMarker.Names(marker));
                target = target with { CacheKey = VariantKeyFor(ctx, target.CacheKey, marker) };
                owner = owners.For(target.CacheKey);
                hotNode = hot.Sighted(target.CacheKey) ? _localNode : null;
                found = await LookUpAsync(owner, target.CacheKey, mayFill, hotNode);
                reason = ForwardReason.VaryMiss;
            }
            if (found is null)
            {
                // The owner is unreachable even after a retry: serve the user from the origin, uncached.
                await ForwardAsync(ctx, target, requestCc, null, ForwardReason.Bypass);
                return;
            }
            ticket = found.Fill;
            if (_proxy.DebugHeaders) AddDebugHeaders(ctx, found.Owner);
            CacheCluster.Node.Observability.ProxyRequestInfo.SetOwner(ctx, found.Owner); // access log
            if (found.Head is { } head)
            {
                var facts = FactsOf(head);
                var verdict = HitDecision.Evaluate(facts, DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs),
                    requestCc, IsPragmaNoCache(ctx), DateTimeOffset.UtcNow, _rules, out var age, out var ttl);
                if (verdict != HitVerdict.Stale)
                {
                    // 4a. Hit: deliver from the owner (or just 304 when the client's copy is current).
                    if (ClientHasFreshCopy(ctx, head)) { WriteNotModified(ctx, head, age, CacheStatus.Hit(_cacheName, ttl)); return; }
                    var chunks = await DeliverHitAsync(ctx, target, owner, head, found, age, ttl, keep: hotNode is not null && hot.Fits(head));
                    if (chunks is not null) hot.Add(target.CacheKey, head, chunks, ttl, lookupStarted);
                    return;
                }
                // 4a'. stale-while-revalidate: serve the stale entry now and revalidate in the background.
                if (mayFill && HitDecision.CanServeWhileRevalidating(facts, DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs),
                        requestCc, IsPragmaNoCache(ctx), DateTimeOffset.UtcNow, out _))
                {
                    var background = BuildBackgroundRequest(ctx, target);
                    var (bgTarget, bgOwner, bgVaries) = (target, owner, varies);
                    _ = Task.Run(() => RevalidateInBackgroundAsync(background, bgTarget, bgOwner, head, bgVaries));
                    var staleStatus = CacheStatus.StaleHit(_cacheName, ttl);
                    if (ClientHasFreshCopy(ctx, head)) { WriteNotModified(ctx, head, age, staleStatus); return; }
                    await DeliverHitAsync(ctx, target, owner, head, found, age, ttl, keep: false, staleStatus);
                    return;
                }
                reason = requestCc.NoCache || (IsPragmaNoCache(ctx) && !requestCc.Present) ? ForwardReason.Request : ForwardReason.Stale;
                stale = head;
                if (mayFill)
                {
                    try { ticket = await owner.BeginFillAsync(target.CacheKey, head.StoredAtUnixMs); }
                    catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { ticket = null; }
                    // Refreshed or replaced since our lookup (by a fill that just ended): look again.
                    if (ticket is { EntryChanged: true } && lookups < 3) goto lookUp;
                    if (ticket is { EntryChanged: true }) ticket = null;
                }
            }
            if (requestCc.OnlyIfCached)
            {
                await ProxyErrors.WriteAsync(ctx, StatusCodes.Status504GatewayTimeout, "only-if-cached was requested and the response is not in the cache",
                    CacheStatus.Forward(_cacheName, reason, null, false, null, "only-if-cached"));
                return;
            }
        }

        // 4b. Collapsed: another request (on any node) is already fetching this URL; follow its fill.
        if (ticket is { IsLeader: false } && owner is not null)
        {
            FillOutcome outcome;
            try { outcome = await owner.FollowAsync(ticket.FillId); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { outcome = FillOutcome.Pass; }
            switch (outcome.Kind)
            {
                case FillOutcomeKind.Stream when outcome.Head is { } head:
                    await DeliverFollowerAsync(ctx, target, owner, ticket.FillId, head, reason);
                    return;
                case FillOutcomeKind.Error:
                    await ProxyErrors.WriteAsync(ctx, outcome.ErrorStatus, outcome.ErrorMessage ?? "the origin failed",
                        CacheStatus.Forward(_cacheName, reason, null, false, null, "collapsed-error") + "; collapsed");
                    return;
                case FillOutcomeKind.Vary when lookups < 3:
                    goto lookUp; // the URL varies now: find (or follow the fill of) this request's variant
            }
            ticket = null; // not shareable: fetch on our own, without storing
        }

        // 4c. Miss or pass: fetch from the origin, storing what may be stored (the leader of a fill).
        var fill = ticket is { IsLeader: true } && owner is not null ? new EntryFill(owner, ticket, _rules.MaxObjectBytes) : null;
        try
        {
            // (A successful unsafe request invalidates what it may have changed, RFC 9111 4.4: ForwardAsync does it.)
            await ForwardAsync(ctx, target, requestCc, fill, reason, stale, owner, varies);
        }
        finally
        {
            // Whatever happened, a fill this request leads must not be left open (followers would wait on it).
            if (fill is { Active: true }) await fill.AbortAsync();
        }
    }

    private void AddDebugHeaders(HttpContext ctx, string? owner)
    {
        ctx.Response.Headers["X-Cache-Node"] = settings.NodeName;
        if (owner is not null) ctx.Response.Headers["X-Cache-Owner"] = owner;
    }

    /// <summary>The owner's answer for a key; null when the owner is unreachable even after a retry.</summary>
    private async Task<LookupResult?> LookUpAsync(ICacheEntryGrain owner, string cacheKey, bool wantFill, string? hotNode)
    {
        try
        {
            return await OwnerCalls.RetryOnceAsync(() => owner.LookupAsync(cacheKey, wantFill, hotNode), logger, "Lookup");
        }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex))
        {
            // A failing store was logged once, with its cause, by the store itself.
            if (ex is CacheCluster.Contracts.Storage.StoreUnavailableException) logger.LogDebug("Owner of {Key}: {Error}; bypassing the cache", cacheKey, ex.Message);
            else logger.LogWarning("Owner of {Key} unreachable ({Error}); bypassing the cache", cacheKey, ex.Message);
            return null;
        }
    }

    // ---- Vary (RFC 9111 4.1) --------------------------------------------------------------------------

    /// <summary>A request for a varying URL: the URL's owner (holding the marker) and what the marker says.</summary>
    private sealed record VaryContext(ICacheEntryGrain UrlOwner, string Epoch, List<string> Names);

    private static string VariantKeyFor(HttpContext ctx, string urlKey, EntryHead marker) =>
        VaryMarker.VariantKey(urlKey, VaryMarker.Epoch(marker), VaryMarker.Names(marker), name => RequestValue(ctx, name));

    private static string? RequestValue(HttpContext ctx, string name) =>
        Vary.NormalizedValue(ctx.Request.Headers[name]);

    /// <summary>
    /// Where a storable response goes when it may vary. Returns the fill to store it with (null: do not
    /// store, with the reason), and the target whose key it is stored under.
    /// <list type="bullet">
    /// <item>The URL's own fill and the response varies: this is the URL's first varying response. The fill
    /// of this request's variant begins first, then the URL's fill ends with the Vary marker, so followers
    /// that select the same variant find that fill running and collapse onto it.</item>
    /// <item>A variant's fill: the response must vary on the same headers (or not at all) and is registered
    /// under the marker, so invalidating the URL removes it. If the origin changed what it varies on, the
    /// URL's marker and variants are dropped and the next request learns anew.</item>
    /// </list>
    /// </summary>
    private async Task<(EntryFill? Fill, RequestTarget Target, string? NotStored)> PlaceVariantAsync(
        HttpContext ctx, RequestTarget target, EntryFill fill, string[] responseHeaders, VaryContext? varies)
    {
        var names = Vary.Names(responseHeaders, out _);
        if (varies is null)
        {
            if (names.Length == 0) return (fill, target, null);
            var epoch = VaryMarker.NewEpoch();
            var variantKey = VaryMarker.VariantKey(target.CacheKey, epoch, names, name => RequestValue(ctx, name));
            var variantOwner = owners.For(variantKey);
            FillRole ticket;
            try { ticket = await variantOwner.BeginFillAsync(variantKey, 0); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return (null, target, "vary-owner-unreachable"); }
            var variantFill = ticket.IsLeader ? new EntryFill(variantOwner, ticket, _rules.MaxObjectBytes) : null;
            var marker = VaryMarker.Create(target.CacheKey, names, epoch, variantKey, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            if (variantFill is null || !await fill.CommitVaryAsync(marker))
            {
                if (variantFill is not null) await variantFill.AbortAsync();
                return (null, target, "vary-raced");
            }
            return (variantFill, target with { CacheKey = variantKey }, null);
        }
        if (names.Length > 0 && !Vary.SameNames(names, varies.Names))
        {
            logger.LogInformation("{Url} now varies on {Names} (was {Old}); its variants are dropped", VaryMarker.UrlKeyOf(target.CacheKey),
                string.Join(", ", names), string.Join(", ", varies.Names));
            try { await varies.UrlOwner.InvalidateAsync(); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { /* its variants stay unreachable until it is */ }
            return (null, target, "vary-changed");
        }
        bool registered;
        try { registered = await varies.UrlOwner.RegisterVariantAsync(varies.Epoch, target.CacheKey); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { registered = false; }
        return registered ? (fill, target, null) : (null, target, "vary-limit");
    }

    private static bool IsPragmaNoCache(HttpContext ctx)
    {
        foreach (var v in ctx.Request.Headers.Pragma)
            if (v is not null && v.Contains("no-cache", StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    private static FreshnessFacts FactsOf(EntryHead head) => new(
        TimeSpan.FromMilliseconds(head.LifetimeMs),
        TimeSpan.FromMilliseconds(head.InitialAgeMs),
        (head.Flags & EntryFlags.Heuristic) != 0,
        (head.Flags & EntryFlags.NoCache) != 0,
        (head.Flags & EntryFlags.MustRevalidate) != 0,
        (head.Flags & EntryFlags.Immutable) != 0,
        head.StaleWhileRevalidateMs >= 0 ? TimeSpan.FromMilliseconds(head.StaleWhileRevalidateMs) : null,
        head.StaleIfErrorMs >= 0 ? TimeSpan.FromMilliseconds(head.StaleIfErrorMs) : null);

    // ---- Hit ------------------------------------------------------------------------------------------

    /// <summary>Serves a hit from the owner; with <paramref name="keep"/>, returns the body's chunks for a hot copy.</summary>
    private async Task<byte[][]?> DeliverHitAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, EntryHead head, LookupResult found,
        TimeSpan age, TimeSpan ttl, bool keep, string? cacheStatus = null)
    {
        var first = found.FirstChunk;
        WriteStoredHead(ctx, head, age, cacheStatus ?? CacheStatus.Hit(_cacheName, ttl));
        if (RangeResponder.TryPrepare(ctx.Request, head, out var range))
        {
            // Range request (RFC 9110 14): only the chunks that overlap the ranges are fetched.
            async ValueTask<byte[]?> Chunk(int i) => found.Carried(i) ?? (await owner.ReadChunkAsync(head.Generation, i)).Value;
            if (!await RangeResponder.WriteAsync(ctx, range, Chunk, RangeResponder.StoreChunkBytes, ctx.RequestAborted))
                logger.LogWarning("Entry {Key} lost a chunk while serving a range; connection aborted", head.CacheKey);
            return null;
        }
        RangeResponder.AdvertiseRanges(ctx.Response, head);
        ctx.Response.ContentLength = head.BodyLength;
        if (head.BodyLength == 0) return keep ? [] : null;
        if (HttpMethods.IsHead(ctx.Request.Method)) return null;

        var aborted = ctx.RequestAborted;
        var body = ctx.Response.BodyWriter;
        if (first is null)
        {
            ctx.Abort();
            return null;
        }
        var kept = keep ? new byte[head.ChunkCount][] : null;
        if (kept is not null) kept[0] = first;
        // Chunks the lookup did not carry are fetched from the owner one ahead of the write to the client.
        Task<Orleans.Concurrency.Immutable<byte[]?>>? Fetch(int i) =>
            i < head.ChunkCount && found.Carried(i) is null ? owner.ReadChunkAsync(head.Generation, i) : null;
        var next = Fetch(1);
        // Chunks at hand are copied into the response pipe without a flush; it flushes before waiting on the owner.
        body.Write(first);
        for (int i = 1; i < head.ChunkCount; i++)
        {
            byte[]? chunk = found.Carried(i);
            bool ownerLost = false;
            if (chunk is null)
            {
                await body.FlushAsync(aborted);
                try { chunk = (await next!).Value; }
                catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { chunk = null; ownerLost = true; }
            }
            next = Fetch(i + 1);
            if (chunk is null)
            {
                // The stored body broke off after the headers went out (unreadable chunk, owner gone): finish it from
                // the origin with If-Range, or cut the connection - a short body, never a wrong one.
                if (await continuation.TryFinishAsync(ctx, BuildBackgroundRequest(ctx, target), head, (long)i * RangeResponder.StoreChunkBytes))
                {
                    counters.BodyContinued();
                    return null;
                }
                counters.BodyAborted(ownerLost ? CacheCluster.Node.Observability.BodyAbortCause.OwnerUnreachable
                    : CacheCluster.Node.Observability.BodyAbortCause.StoreChunkMissing);
                ctx.Abort();
                return null;
            }
            if (kept is not null) kept[i] = chunk;
            body.Write(chunk);
        }
        await body.FlushAsync(aborted);
        return kept;
    }

    /// <summary>Serves a hit from this node's hot copy (memory only).</summary>
    private async Task DeliverHotAsync(HttpContext ctx, HotEntries.HotEntry entry, TimeSpan age, TimeSpan ttl)
    {
        WriteStoredHead(ctx, entry.Head, age, CacheStatus.Hit(_cacheName, ttl));
        if (RangeResponder.TryPrepare(ctx.Request, entry.Head, out var range))
        {
            var chunks = entry.Chunks;
            await RangeResponder.WriteAsync(ctx, range, i => new(i < chunks.Length ? chunks[i] : null), RangeResponder.StoreChunkBytes, ctx.RequestAborted);
            return;
        }
        RangeResponder.AdvertiseRanges(ctx.Response, entry.Head);
        ctx.Response.ContentLength = entry.Head.BodyLength;
        if (HttpMethods.IsHead(ctx.Request.Method)) return;
        // A small object (two chunks at most) goes out in one flush; larger ones stream chunk by chunk.
        var body = ctx.Response.BodyWriter;
        if (entry.Chunks.Length <= 2)
        {
            foreach (var chunk in entry.Chunks) body.Write(chunk);
            await body.FlushAsync(ctx.RequestAborted);
        }
        else
        {
            foreach (var chunk in entry.Chunks) await body.WriteAsync(chunk, ctx.RequestAborted);
        }
    }

    /// <summary>
    /// A collapsed request: streams the leader's response from the owner as its chunks arrive (cluster-wide
    /// single-flight). If the fill is lost mid-body the connection is cut, so a partial body never looks whole.
    /// </summary>
    private async Task DeliverFollowerAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, long fillId, EntryHead head, ForwardReason reason)
    {
        var now = DateTimeOffset.UtcNow;
        var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(head.InitialAgeMs), DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs), now);
        var ttl = TimeSpan.FromMilliseconds(head.LifetimeMs) - age;
        WriteStoredHead(ctx, head, age, CacheStatus.Forward(_cacheName, reason, head.Status, false, ttl) + "; collapsed");
        if (head.BodyLength >= 0) ctx.Response.ContentLength = head.BodyLength;
        if (HttpMethods.IsHead(ctx.Request.Method) || head.BodyLength == 0) return;

        var aborted = ctx.RequestAborted;
        var body = ctx.Response.BodyWriter;
        var next = owner.FollowChunkAsync(fillId, head.Generation, 0);
        long sent = 0;
        // The head now, not with the first chunk: a slow origin body must not leave followers without an answer.
        await body.FlushAsync(aborted);
        for (int i = 0; ; i++)
        {
            FollowChunk chunk;
            try { chunk = await next; }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { chunk = FollowChunk.Gone; }
            if (chunk.End) return;
            if (chunk.Data is null)
            {
                // The fill was lost (its leader or owner failed), or a chunk this follower lagged behind on was
                // evicted: finish from the origin when the length and a strong validator allow it, else cut.
                await body.FlushAsync(aborted);
                if (head.BodyLength > 0 && await continuation.TryFinishAsync(ctx, BuildBackgroundRequest(ctx, target), head, sent))
                {
                    counters.BodyContinued();
                    return;
                }
                logger.LogInformation("The fill of {Key} was lost after {Chunks} chunks; follower connection aborted", head.CacheKey, i);
                counters.BodyAborted(CacheCluster.Node.Observability.BodyAbortCause.FillLost);
                ctx.Abort();
                return;
            }
            next = owner.FollowChunkAsync(fillId, head.Generation, i + 1);
            await body.WriteAsync(chunk.Data, aborted);
            sent += chunk.Data.Length;
        }
    }

    /// <summary>Status and stored headers of an entry, with our Age, Via and Cache-Status.</summary>
    private void WriteStoredHead(HttpContext ctx, EntryHead head, TimeSpan age, string cacheStatus)
    {
        var response = ctx.Response;
        response.StatusCode = head.Status;
        if (head.ReasonPhrase is { } phrase) ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = phrase;
        var headers = response.Headers;
        var stored = head.Headers;
        for (int i = 0; i + 1 < stored.Length; i += 2)
        {
            var name = stored[i];
            // Age is recomputed; the length comes from what we actually hold.
            if (name.Equals(HeaderNames.Age, StringComparison.OrdinalIgnoreCase) ||
                name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
            headers.Append(name, stored[i + 1]);
        }
        headers.Age = ((long)Math.Max(0, age.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        headers.Append(HeaderNames.Via, _via);
        headers.Append("Cache-Status", cacheStatus);
    }

    // ---- Miss / pass ----------------------------------------------------------------------------------

    /// <summary>
    /// Sends the request to the origin and delivers its answer, storing it when the fill allows. With a stale
    /// entry that has validators, the request is a revalidation: a 304 refreshes the stored entry, which is
    /// then served. Returns the origin's status (0 when it could not be reached).
    /// </summary>
    private async Task<int> ForwardAsync(HttpContext ctx, RequestTarget target, CacheControl requestCc, EntryFill? fill, ForwardReason reason,
        EntryHead? stale = null, ICacheEntryGrain? owner = null, VaryContext? varies = null)
    {
        var method = ctx.Request.Method;
        using var upstream = BuildUpstreamRequest(ctx, target);
        // A fill over a stale entry with validators is a revalidation (RFC 9111 4.3.1).
        bool revalidating = fill is not null && stale is not null && AddValidators(upstream, stale);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        timeout.CancelAfter(_proxy.OriginTimeout);
        var requestTime = DateTimeOffset.UtcNow;
        HttpResponseMessage originResponse;
        try
        {
            originResponse = await origin.SendAsync(upstream, timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            if (ctx.RequestAborted.IsCancellationRequested) return 0;
            var (status, message) = OriginClient.Describe(ex, target.UpstreamUri, timedOut: ex is OperationCanceledException);
            // A stale must-revalidate entry may not stand in; a cache cut off from its origin answers 504 (RFC 9111 5.2.2.2).
            if (status == StatusCodes.Status502BadGateway && stale is not null && (stale.Flags & EntryFlags.MustRevalidate) != 0)
                (status, message) = (StatusCodes.Status504GatewayTimeout, $"the stored response must be revalidated, and {message}");
            logger.LogInformation("{Method} {Url}: {Status} {Message}", method, target.UpstreamUri, status, message);
            if (await TryServeStaleOnErrorAsync(ctx, target, stale, owner, requestCc, fill, status)) return status;
            // Requests collapsed onto this fetch get the same error; nothing is cached.
            if (fill is not null) await fill.PublishAsync(new FillOutcome(FillOutcomeKind.Error, ErrorStatus: status, ErrorMessage: message));
            await ProxyErrors.WriteAsync(ctx, status, message, CacheStatus.Forward(_cacheName, reason, null, false, null, status == 504 ? "origin-timeout" : "origin-unreachable"));
            return 0;
        }

        // A variant's fill begun here (the URL's fill is the caller's) is never left open.
        EntryFill? placed = null;
        try
        {
            using (originResponse)
            {
                var responseTime = DateTimeOffset.UtcNow;
                var framing = BodyFraming.Of(originResponse); // drops a Content-Length that chunked overrides
                var endToEnd = CollectResponseHeaders(originResponse);
                var status = (int)originResponse.StatusCode;
                var declaredLength = framing.Length;

                // 7. A successful unsafe request invalidates what it may have changed (RFC 9111 4.4), before its
                //    client hears back: its next request, on any node, must not be answered from the old entry.
                if (status is >= 200 and < 400 && CacheMethods.IsUnsafe(method))
                    await InvalidateAfterUnsafeAsync(ctx, target, endToEnd);

                // 5a. The origin failed with 5xx: a stale entry may stand in (RFC 5861 stale-if-error, RFC 9111 4.2.4).
                if (status >= 500 && await TryServeStaleOnErrorAsync(ctx, target, stale, owner, requestCc, fill, status)) return status;

                // 5b'. A 304 that names another representation freshens nothing (RFC 9111 4.3.4): ask again, unconditionally.
                if (revalidating && status == StatusCodes.Status304NotModified && !Validators.NotModifiedFreshens(stale!.Headers, endToEnd))
                    return await ForwardAsync(ctx, target, requestCc, fill, reason, stale: null, owner, varies);

                // 5b. Revalidated: the stored body is still good; refresh its head and serve it.
                if (revalidating && status == StatusCodes.Status304NotModified && fill is not null && owner is not null)
                {
                    var refreshed = Refreshed(stale!, endToEnd, requestTime, responseTime);
                    if (await fill.RefreshAsync(refreshed))
                    {
                        var now = DateTimeOffset.UtcNow;
                        var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(refreshed.InitialAgeMs), responseTime, now);
                        var ttl = TimeSpan.FromMilliseconds(refreshed.LifetimeMs) - age;
                        var cacheStatus = CacheStatus.Forward(_cacheName, reason, 304, true, ttl);
                        if (ClientHasFreshCopy(ctx, refreshed)) WriteNotModified(ctx, refreshed, age, cacheStatus);
                        else await DeliverStoredAsync(ctx, target, owner, refreshed, age, cacheStatus);
                        return status;
                    }
                    // The entry changed (or vanished) while we revalidated it: this 304 answered our validators, not
                    // the client's, so it must not be passed on. The client is told to retry.
                    await ProxyErrors.WriteAsync(ctx, StatusCodes.Status503ServiceUnavailable,
                        "the cached entry changed while it was being revalidated; please retry",
                        CacheStatus.Forward(_cacheName, reason, 304, false, null, "revalidation-raced"));
                    return status;
                }

                // 5. Store? Decide from the response before any byte goes to the client.
                StoreVerdict verdict = StoreVerdict.MethodNotCacheable;
                FreshnessFacts facts = default;
                string? notStored = null;
                if (fill is not null)
                {
                    // The targeted field (CDN-Cache-Control, RFC 9213) replaces Cache-Control for this cache when present.
                    var responseCc = CacheControl.ForSharedCache(endToEnd, _rules.TargetedField);
                    verdict = StoreDecision.Decide(method, ctx.Request.Headers.Authorization.Count > 0, requestCc, status, endToEnd,
                        responseCc, declaredLength, requestTime, responseTime, _rules, target.CacheKey, out facts);
                    notStored = Detail(verdict);
                    // A body whose end only the connection's close marks cannot be told from one cut short.
                    if (verdict == StoreVerdict.Store && !framing.ProvesCompleteness) notStored = "close-delimited";
                    // 5'. A response that varies is stored as the variant this request selects.
                    var storeWith = fill;
                    if (verdict == StoreVerdict.Store && notStored is null)
                    {
                        (storeWith, target, notStored) = await PlaceVariantAsync(ctx, target, fill, endToEnd, varies);
                        if (storeWith is not null && !ReferenceEquals(storeWith, fill)) placed = fill = storeWith;
                    }
                    if (storeWith is not null && notStored is null)
                    {
                        // Followers start streaming this response as soon as it is published.
                        await storeWith.PublishAsync(new FillOutcome(FillOutcomeKind.Stream,
                            NewHead(target, originResponse, endToEnd, facts, requestTime, responseTime)));
                    }
                    else
                    {
                        await fill.PublishAsync(FillOutcome.Pass);
                    }
                }
                bool storing = fill is { Active: true };

                // 6. Deliver: status and headers now, body streamed (and stored chunk by chunk).
                var response = ctx.Response;
                response.StatusCode = status;
                if (originResponse.ReasonPhrase is { } phrase) ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = phrase;
                for (int i = 0; i + 1 < endToEnd.Length; i += 2) response.Headers.Append(endToEnd[i], endToEnd[i + 1]);
                if (declaredLength is long length) response.ContentLength = length;
                response.Headers.Append(HeaderNames.Via, _via);
                response.Headers.Append("Cache-Status", CacheStatus.Forward(_cacheName, reason, status, storing,
                    storing ? facts.Lifetime - facts.InitialAge : null, !storing && fill is not null ? notStored : null));

                await CopyBodyAsync(ctx, originResponse, storing ? fill : null, method);
                return status;
            }
        }
        finally
        {
            if (placed is { Active: true }) await placed.AbortAsync();
        }
    }

    /// <summary>A cookie is for the client that got it from the origin: never stored, never replayed from the cache.</summary>
    private static string[] WithoutSetCookie(string[] headers)
    {
        if (HeaderPairs.Get(headers, HeaderNames.SetCookie) is null) return headers;
        var kept = new List<string>(headers.Length);
        for (int i = 0; i + 1 < headers.Length; i += 2)
            if (!headers[i].Equals(HeaderNames.SetCookie, StringComparison.OrdinalIgnoreCase)) { kept.Add(headers[i]); kept.Add(headers[i + 1]); }
        return [.. kept];
    }

    /// <summary>The head of a response about to be stored (its body length is final only at commit).</summary>
    private static EntryHead NewHead(RequestTarget target, HttpResponseMessage originResponse, string[] headers, in FreshnessFacts facts,
        DateTimeOffset requestTime, DateTimeOffset responseTime) => new()
    {
        CacheKey = target.CacheKey,
        Status = (int)originResponse.StatusCode,
        ReasonPhrase = originResponse.ReasonPhrase,
        // Fields named by private="…" / no-cache="…" are not kept (RFC 9111 5.2.2.4, 5.2.2.7).
        Headers = WithheldFields.Remove(WithoutSetCookie(headers), CacheControl.Parse(HeaderPairs.GetAll(headers, HeaderNames.CacheControl))),
        RequestTimeUnixMs = requestTime.ToUnixTimeMilliseconds(),
        ResponseTimeUnixMs = responseTime.ToUnixTimeMilliseconds(),
        LifetimeMs = (long)facts.Lifetime.TotalMilliseconds,
        InitialAgeMs = (long)facts.InitialAge.TotalMilliseconds,
        Flags = (facts.Heuristic ? EntryFlags.Heuristic : 0) | (facts.NoCache ? EntryFlags.NoCache : 0)
                | (facts.MustRevalidate ? EntryFlags.MustRevalidate : 0) | (facts.Immutable ? EntryFlags.Immutable : 0),
        StaleWhileRevalidateMs = facts.StaleWhileRevalidate is { } swr ? (long)swr.TotalMilliseconds : -1,
        StaleIfErrorMs = facts.StaleIfError is { } sie ? (long)sie.TotalMilliseconds : -1,
        BodyLength = originResponse.Content.Headers.ContentLength ?? -1,
    };

    /// <summary>
    /// stale-while-revalidate (RFC 5861 3): the client already got the stale entry; this fetches a fresh one
    /// in the background. It runs as an ordinary fill, so a revalidation already under way anywhere in the
    /// cluster makes this one a no-op, and a 304 refreshes the stored head.
    /// </summary>
    private async Task RevalidateInBackgroundAsync(HttpRequestMessage request, RequestTarget target, ICacheEntryGrain owner, EntryHead stale,
        VaryContext? varies)
    {
        using var upstream = request;
        FillRole ticket;
        try { ticket = await owner.BeginFillAsync(target.CacheKey, stale.StoredAtUnixMs); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return; }
        if (!ticket.IsLeader) return; // already under way, or already refreshed

        var fill = new EntryFill(owner, ticket, _rules.MaxObjectBytes);
        try
        {
            AddValidators(request, stale);
            using var timeout = new CancellationTokenSource(_proxy.OriginTimeout);
            var requestTime = DateTimeOffset.UtcNow;
            using var response = await origin.SendAsync(request, timeout.Token);
            var responseTime = DateTimeOffset.UtcNow;
            var framing = BodyFraming.Of(response);
            var headers = CollectResponseHeaders(response);
            var status = (int)response.StatusCode;
            if (status == StatusCodes.Status304NotModified)
            {
                // A 304 naming another representation freshens nothing (RFC 9111 4.3.4); the next request refetches.
                if (Validators.NotModifiedFreshens(stale.Headers, headers)) await fill.RefreshAsync(Refreshed(stale, headers, requestTime, responseTime));
                else await fill.PublishAsync(FillOutcome.Pass);
                return;
            }
            var verdict = StoreDecision.Decide("GET", request.Headers.Authorization is not null, CacheControl.Empty, status, headers, CacheControl.ForSharedCache(headers, _rules.TargetedField),
                response.Content.Headers.ContentLength, requestTime, responseTime, _rules, target.CacheKey, out var facts);
            // A changed Vary is left to the next foreground fetch, which re-places the URL's variants.
            var names = Vary.Names(headers, out _);
            bool varyChanged = varies is null ? names.Length > 0 : names.Length > 0 && !Vary.SameNames(names, varies.Names);
            if (verdict != StoreVerdict.Store || varyChanged || !framing.ProvesCompleteness)
            {
                await fill.PublishAsync(FillOutcome.Pass); // e.g. a 5xx: the stale entry stays
                return;
            }
            await fill.PublishAsync(new FillOutcome(FillOutcomeKind.Stream, NewHead(target, response, headers, facts, requestTime, responseTime)));
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                int n;
                while ((n = await body.ReadAsync(buffer, timeout.Token)) > 0)
                    if (!await fill.AddAsync(buffer.AsMemory(0, n))) return;
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
            await fill.CommitAsync();
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            logger.LogInformation("Background revalidation of {Key} failed: {Message}", target.CacheKey, ex.Message);
        }
        finally
        {
            if (fill.Active) await fill.AbortAsync();
        }
    }

    /// <summary>Serves the stale entry instead of an origin error when stale-if-error or the operator default allows it.</summary>
    private async Task<bool> TryServeStaleOnErrorAsync(HttpContext ctx, RequestTarget target, EntryHead? stale, ICacheEntryGrain? owner, CacheControl requestCc, EntryFill? fill, int errorStatus)
    {
        if (stale is null || owner is null || ctx.Response.HasStarted) return false;
        var now = DateTimeOffset.UtcNow;
        var responseTime = DateTimeOffset.FromUnixTimeMilliseconds(stale.ResponseTimeUnixMs);
        if (!HitDecision.CanServeOnError(FactsOf(stale), responseTime, requestCc, IsPragmaNoCache(ctx), _rules, now, out _)) return false;
        // Followers try on their own (and may serve stale themselves); nothing new is stored.
        if (fill is not null) await fill.PublishAsync(FillOutcome.Pass);
        var age = Freshness.CurrentAge(TimeSpan.FromMilliseconds(stale.InitialAgeMs), responseTime, now);
        var ttl = TimeSpan.FromMilliseconds(stale.LifetimeMs) - age;
        logger.LogInformation("Origin failed with {Status} for {Key}; serving the stale entry ({Seconds} s stale)", errorStatus, stale.CacheKey, (long)-ttl.TotalSeconds);
        await DeliverStoredAsync(ctx, target, owner, stale, age, CacheStatus.StaleOnError(_cacheName, errorStatus, ttl));
        return true;
    }

    /// <summary>Turns the upstream request into a revalidation of the stored entry (RFC 9111 4.3.1).</summary>
    private static bool AddValidators(HttpRequestMessage upstream, EntryHead stale)
    {
        var etag = HeaderPairs.Get(stale.Headers, HeaderNames.ETag);
        var lastModified = HeaderPairs.Get(stale.Headers, HeaderNames.LastModified);
        if (etag is null && lastModified is null) return false;
        // The client's own conditionals are about its copy, not ours: ours replace them.
        upstream.Headers.Remove(HeaderNames.IfNoneMatch);
        upstream.Headers.Remove(HeaderNames.IfModifiedSince);
        if (etag is not null) upstream.Headers.TryAddWithoutValidation(HeaderNames.IfNoneMatch, etag);
        if (lastModified is not null) upstream.Headers.TryAddWithoutValidation(HeaderNames.IfModifiedSince, lastModified);
        return true;
    }

    /// <summary>The stored entry's head updated by a 304 (RFC 9111 4.3.4), with freshness recomputed.</summary>
    private EntryHead Refreshed(EntryHead stale, string[] notModifiedHeaders, DateTimeOffset requestTime, DateTimeOffset responseTime)
    {
        var headers = Validators.MergeNotModified(stale.Headers, notModifiedHeaders);
        var cc = CacheControl.ForSharedCache(headers, _rules.TargetedField);
        var lifetime = Freshness.Lifetime(stale.Status, headers, cc, _rules, stale.CacheKey, responseTime, out var heuristic) ?? TimeSpan.Zero;
        return stale with
        {
            Headers = headers,
            RequestTimeUnixMs = requestTime.ToUnixTimeMilliseconds(),
            ResponseTimeUnixMs = responseTime.ToUnixTimeMilliseconds(),
            LifetimeMs = (long)lifetime.TotalMilliseconds,
            InitialAgeMs = (long)Freshness.InitialAge(headers, requestTime, responseTime).TotalMilliseconds,
            Flags = (heuristic ? EntryFlags.Heuristic : 0) | (cc.NoCache ? EntryFlags.NoCache : 0)
                    | (cc.MustRevalidate || cc.ProxyRevalidate || cc.SMaxAge is not null ? EntryFlags.MustRevalidate : 0)
                    | (cc.Immutable ? EntryFlags.Immutable : 0),
            StaleWhileRevalidateMs = cc.StaleWhileRevalidate is long swr ? swr * 1000 : -1,
            StaleIfErrorMs = cc.StaleIfError is long sie ? sie * 1000 : -1,
        };
    }

    /// <summary>Serves a stored entry from its owner (after a revalidation, or stale on error) as a hit is served.</summary>
    private async Task DeliverStoredAsync(HttpContext ctx, RequestTarget target, ICacheEntryGrain owner, EntryHead head, TimeSpan age, string cacheStatus)
    {
        // The same delivery as a hit (ranges, chunks fetched one ahead); only the first chunk is fetched here.
        byte[]? first = null;
        if (head.BodyLength > 0 && !HttpMethods.IsHead(ctx.Request.Method))
        {
            try { first = (await owner.ReadChunkAsync(head.Generation, 0)).Value; }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { first = null; }
        }
        await DeliverHitAsync(ctx, target, owner, head, new LookupResult(head, first), age, TimeSpan.Zero, keep: false, cacheStatus);
    }

    /// <summary>Does the client's conditional GET/HEAD match the stored response (so a 304 answers it)?</summary>
    private static bool ClientHasFreshCopy(HttpContext ctx, EntryHead head)
    {
        var headers = ctx.Request.Headers;
        if (headers.IfNoneMatch.Count == 0 && headers.IfModifiedSince.Count == 0) return false;
        if (head.Status != StatusCodes.Status200OK) return false;
        return Validators.NotModified(head.Headers, headers.IfNoneMatch, headers.IfModifiedSince.Count > 0 ? headers.IfModifiedSince.ToString() : null,
            DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs));
    }

    private void WriteNotModified(HttpContext ctx, EntryHead head, TimeSpan age, string cacheStatus)
    {
        var response = ctx.Response;
        response.StatusCode = StatusCodes.Status304NotModified;
        var stored = head.Headers;
        for (int i = 0; i + 1 < stored.Length; i += 2)
            if (Validators.BelongsIn304(stored[i])) response.Headers.Append(stored[i], stored[i + 1]);
        response.Headers.Age = ((long)Math.Max(0, age.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers.Append(HeaderNames.Via, _via);
        response.Headers.Append("Cache-Status", cacheStatus);
    }

    /// <summary>
    /// After a successful POST/PUT/DELETE/PATCH, the target URL and the same-origin URLs in Location and
    /// Content-Location are invalidated (RFC 9111 4.4), cluster-wide through their owners.
    /// </summary>
    private async Task InvalidateAfterUnsafeAsync(HttpContext ctx, RequestTarget target, string[] responseHeaders)
    {
        var keys = new List<string> { target.CacheKey };
        foreach (var name in new[] { HeaderNames.Location, HeaderNames.ContentLocation })
        {
            var value = HeaderPairs.Get(responseHeaders, name);
            if (string.IsNullOrEmpty(value)) continue;
            var publicUri = new Uri(target.CacheKey);
            if (!Uri.TryCreate(publicUri, value, out var resolved)) continue;
            if (resolved.Scheme != publicUri.Scheme || !string.Equals(resolved.Authority, publicUri.Authority, StringComparison.OrdinalIgnoreCase)) continue;
            keys.Add(RequestTarget.KeyFor(resolved));
        }
        foreach (var key in keys.Distinct())
        {
            hot.Drop(key); // this node's copy at once; the owner tells the other nodes
            try { await owners.For(key).InvalidateAsync(); }
            catch (Exception ex) when (OwnerCalls.IsTransient(ex))
            {
                logger.LogWarning("Could not invalidate {Key} after {Method}: {Error}", key, ctx.Request.Method, ex.Message);
            }
        }
    }

    private static string? Detail(StoreVerdict verdict) => verdict switch
    {
        StoreVerdict.Store => null,
        StoreVerdict.RequestNoStore or StoreVerdict.ResponseNoStore => "no-store",
        StoreVerdict.Private => "private",
        StoreVerdict.Authorization => "authorization",
        StoreVerdict.StatusNotCacheable => "status",
        StoreVerdict.NoFreshness => "no-freshness",
        StoreVerdict.VaryStar => "vary-star",
        StoreVerdict.TooLarge => "too-large",
        StoreVerdict.SetCookie => "set-cookie",
        _ => null,
    };

    /// <summary>
    /// Streams the origin body to the client and, when storing, to the fill. The fill commits only once the
    /// body's framing says it ended (RFC 9112 6.3: the last chunk, or the declared length followed by the end
    /// the length stream reports at once), before the client sees the last byte of a Content-Length body, so a
    /// client that asks again right away already gets a hit. On an origin failure mid-body, or an origin that
    /// sends nothing for Proxy:OriginIdleTimeout, the client connection is aborted (a truncated body never looks
    /// complete) and the fill with it (followers are cut off too); a client abort ends the copy (and the fill).
    /// </summary>
    private async Task CopyBodyAsync(HttpContext ctx, HttpResponseMessage originResponse, EntryFill? fill, string method)
    {
        if (HttpMethods.IsHead(method)) return; // no body; a HEAD never holds a fill lease
        var aborted = ctx.RequestAborted;
        var declared = originResponse.Content.Headers.ContentLength; // BodyFraming.Of removed one chunked overrides
        long total = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        try
        {
            await using var source = await originResponse.Content.ReadAsStreamAsync(aborted);
            var body = ctx.Response.Body;
            while (true)
            {
                int n = await ReadOriginAsync(source, buffer);
                if (n < 0) return;
                if (n == 0)
                {
                    await CommitAsync(fill, originResponse); // the framing says the body ended
                    break;
                }
                total += n;
                if (fill is { Active: true })
                {
                    await fill.AddAsync(buffer.AsMemory(0, n));
                    // At the declared length the length stream reports its end without waiting: commit first.
                    if (declared == total && fill.Active)
                    {
                        int more = await ReadOriginAsync(source, new byte[1]);
                        if (more < 0) return;
                        if (more == 0) await CommitAsync(fill, originResponse);
                        else await fill.AbortAsync(); // more than declared: never stored
                    }
                }
                try
                {
                    await body.WriteAsync(buffer.AsMemory(0, n), aborted);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    return; // the client went away
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // One read of the origin body, bounded by the idle timeout; -1 when it failed (client connection aborted).
        async Task<int> ReadOriginAsync(Stream source, byte[] into)
        {
            try
            {
                idle.CancelAfter(_proxy.OriginIdleTimeout);
                int read = await source.ReadAsync(into, idle.Token);
                idle.CancelAfter(Timeout.InfiniteTimeSpan); // a slow client is not the origin's idleness
                return read;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException)
            {
                if (!aborted.IsCancellationRequested && idle.IsCancellationRequested)
                    logger.LogInformation("Origin body for {Url} sent nothing for {Seconds} s after {Bytes} bytes (Proxy:OriginIdleTimeout); given up",
                        originResponse.RequestMessage?.RequestUri, _proxy.OriginIdleTimeout.TotalSeconds, total);
                else if (!aborted.IsCancellationRequested)
                    logger.LogInformation("Origin body for {Url} failed mid-transfer after {Bytes} bytes: {Message}",
                        originResponse.RequestMessage?.RequestUri, total, ex.Message);
                ctx.Abort();
                return -1;
            }
        }
    }

    private async Task CommitAsync(EntryFill? fill, HttpResponseMessage originResponse)
    {
        if (fill is not { Active: true }) return;
        if (!await fill.CommitAsync())
            logger.LogWarning("The owner refused to commit {Url}", originResponse.RequestMessage?.RequestUri);
    }

    // ---- Request / response header handling --------------------------------------------------------

    /// <summary>
    /// The request a background revalidation sends: the client's GET (same end-to-end headers, so the
    /// origin selects the same variant) without a body and without the client's conditionals and ranges.
    /// Built before the client's request ends, since its headers go with it.
    /// </summary>
    private HttpRequestMessage BuildBackgroundRequest(HttpContext ctx, RequestTarget target)
    {
        var message = BuildUpstreamRequest(ctx, target);
        message.Content = null;
        foreach (var name in (string[])[HeaderNames.IfNoneMatch, HeaderNames.IfModifiedSince, HeaderNames.IfMatch, HeaderNames.IfUnmodifiedSince,
                     HeaderNames.IfRange, HeaderNames.Range])
            message.Headers.Remove(name);
        return message;
    }

    private HttpRequestMessage BuildUpstreamRequest(HttpContext ctx, RequestTarget target)
    {
        var request = ctx.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), target.UpstreamUri)
        {
            Version = System.Net.HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        var bodyDetection = ctx.Features.Get<IHttpRequestBodyDetectionFeature>();
        if (bodyDetection?.CanHaveBody == true)
        {
            message.Content = new StreamContent(new ClientBodyStream(request.Body), 64 * 1024);
        }
        var listed = HopByHop.ConnectionListed(request.Headers.Connection);
        foreach (var (name, values) in request.Headers)
        {
            if (HopByHop.Skip(name, listed) || name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
                || name.Equals(HeaderNames.Expect, StringComparison.OrdinalIgnoreCase)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values))
                message.Content?.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)values);
        }
        if (target.HostOverride is not null) message.Headers.Host = target.HostOverride;
        upstreamHeaders.Apply(ctx, message); // Via, X-Forwarded-For, stripped headers (Privacy:*)
        return message;
    }

    /// <summary>End-to-end response headers as flat pairs: what is forwarded and what is stored.</summary>
    private static string[] CollectResponseHeaders(HttpResponseMessage response)
    {
        HashSet<string>? listed = null;
        if (response.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
            listed = HopByHop.ConnectionListed(new Microsoft.Extensions.Primitives.StringValues([.. connection]));
        var pairs = new List<string>(32);
        Add(response.Headers.NonValidated, listed, pairs);
        Add(response.Content.Headers.NonValidated, listed, pairs);
        return [.. pairs];

        static void Add(System.Net.Http.Headers.HttpHeadersNonValidated headers, HashSet<string>? listed, List<string> pairs)
        {
            foreach (var (name, values) in headers)
            {
                if (HopByHop.Skip(name, listed) || name.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)) continue;
                foreach (var value in values)
                {
                    // Malformed origin headers (CR/LF, controls, 8-bit) are never passed on or stored.
                    if (!CacheCluster.Node.Hardening.ResponseHeaderCheck.IsValid(name, value)) continue;
                    pairs.Add(name);
                    pairs.Add(value);
                }
            }
        }
    }
}
