using System.Diagnostics;
using CacheCluster.Contracts.Entries;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Proxy.Compression;
using CacheCluster.Node.Proxy.Responses;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 4″. Encode: a fresh identity entry of a compressible type, for a client that accepts br or gzip. Its compressed
/// form is an entry of its own (<see cref="EncodedForms"/>): served from this node's hot copy of it or from its
/// owner; if it does not exist yet, this request makes it from the identity body (the owner made it the form's fill
/// leader: one node compresses, once), stores it and serves it. Everything else (a form being made by another
/// request right now, its owner unreachable, a body that does not shrink) is served identity, as a hit.
/// Headers and freshness always come from the identity entry (<see cref="EncodedHeads.Served"/>).
/// </summary>
public sealed class EncodeStep(EntryOwners owners, HotEntries hot, ILocalSiloDetails localSilo, CompressionPolicy policy, StoredHead head,
    StoredBody body, EncodedBody encoded, ILogger<EncodeStep> logger)
{
    private readonly string _localNode = localSilo.SiloAddress.ToParsableString();

    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var identity = r.HotIdentity?.Head ?? r.Found!.Head!;
        var coding = r.Coding!;
        var by = r.HotIdentity is null ? AnsweredBy.Hit : AnsweredBy.HotCopy;
        KeepIdentityHotCopy(r, identity);

        // The client's copy of this form is current (weak comparison against W/"…"): a 304 with the form's validators.
        var headersOnly = EncodedHeads.Served(identity, coding, null);
        if (StoredHead.ClientHasFreshCopy(ctx, headersOnly))
        {
            head.WriteNotModified(ctx, headersOnly, r.Age, r.Answered(new Answer(by, Ttl: r.Ttl, Detail: coding), head.CacheName));
            return Step.Done;
        }

        var formKey = EncodedForms.Key(identity, coding);
        if (hot.Enabled && hot.TryGet(formKey, out var hotForm))
        {
            if (EncodedHeads.IsNotWorthIt(hotForm.Head)) return await IdentityAsync(r);
            await encoded.DeliverAsync(ctx, EncodedHeads.Served(identity, coding, hotForm.Head), EncodedBody.InMemory(hotForm.Chunks), r.Age,
                r.Answered(new Answer(by, Ttl: r.Ttl, Detail: coding), head.CacheName), keep: false);
            return Step.Done;
        }

        var owner = owners.For(formKey);
        var lookupStarted = DateTime.UtcNow;
        var hotNode = hot.Sighted(formKey) ? _localNode : null;
        LookupResult found;
        try { found = await owner.LookupAsync(formKey, wantFill: true, hotNode); }
        catch (Exception ex) when (OwnerCalls.IsTransient(ex))
        {
            logger.LogDebug("Owner of the {Coding} form of {Key} unreachable ({Message}); served identity", coding, identity.CacheKey, ex.Message);
            return await IdentityAsync(r);
        }
        if (found.Head is { } form)
        {
            if (EncodedHeads.IsNotWorthIt(form)) return await IdentityAsync(r);
            var chunks = await encoded.DeliverAsync(ctx, EncodedHeads.Served(identity, coding, form), EncodedBody.FromOwner(owner, found, form.Generation),
                r.Age, r.Answered(new Answer(by, Ttl: r.Ttl, Detail: coding), head.CacheName), keep: hotNode is not null && hot.Fits(form));
            if (chunks is not null) hot.Add(formKey, form, chunks, r.Ttl, lookupStarted);
            return Step.Done;
        }
        // Another request is making this form right now: this one is served identity rather than waiting.
        if (found.Fill is not { IsLeader: true } role) return await IdentityAsync(r);
        return await MakeAsync(r, identity, coding, formKey, new FillLeader(owner, role, policy.Settings.MaxBytes), by);
    }

    /// <summary>Compresses the identity body, stores the form (its own fill), and serves it from memory.</summary>
    private async Task<Step> MakeAsync(ProxyRequest r, EntryHead identity, string coding, string formKey, FillLeader fill, AnsweredBy by)
    {
        try
        {
            var source = await IdentityChunksAsync(r, identity);
            if (source is null) return await IdentityAsync(r);
            var started = Stopwatch.GetTimestamp();
            // On a pool thread: compressing a large body takes milliseconds, and with Proxy:InlineIo this request may
            // be running on a socket thread that serves many other clients.
            var bytes = await Task.Run(() => FormEncoder.Encode(source, identity.BodyLength, coding, policy.Settings));
            var took = Stopwatch.GetElapsedTime(started);
            // Worth a form only if it saves at least a twentieth: else every client accepting it gets identity.
            if (bytes.Length > identity.BodyLength - identity.BodyLength / 20)
            {
                await fill.PublishAsync(new FillOutcome(FillOutcomeKind.Stream, EncodedHeads.NotWorthIt(identity, formKey)));
                await fill.CommitAsync();
                return await IdentityAsync(r);
            }
            var stored = EncodedHeads.Stored(identity, formKey, coding, bytes.Length);
            await fill.PublishAsync(new FillOutcome(FillOutcomeKind.Stream, stored));
            await fill.AddAsync(bytes);
            bool kept = await fill.CommitAsync();
            logger.LogDebug("{Coding} form of {Key}: {From} -> {To} bytes in {Ms:F1} ms{Stored}", coding, identity.CacheKey, identity.BodyLength,
                bytes.Length, took.TotalMilliseconds, kept ? "" : " (not stored: its fill ended)");
            var chunks = EncodedBody.Split(bytes);
            var served = EncodedHeads.Served(identity, coding, stored with { ChunkCount = chunks.Length });
            await encoded.DeliverAsync(r.Context, served, EncodedBody.InMemory(chunks), r.Age,
                r.Answered(new Answer(by, Ttl: r.Ttl, Detail: coding + "-stored"), head.CacheName), keep: false);
            return Step.Done;
        }
        finally
        {
            if (fill.Active) await fill.AbortAsync();
        }
    }

    /// <summary>
    /// A second request for the identity entry on this node keeps it as a hot copy, as a hit would (when the look-up
    /// carried the whole body): the next encoded hit here then needs no owner round trip at all.
    /// </summary>
    private void KeepIdentityHotCopy(ProxyRequest r, EntryHead identity)
    {
        if (r.HotIdentity is not null || r.HotNode is null || r.Found is not { } found || !hot.Fits(identity)) return;
        var chunks = new byte[identity.ChunkCount][];
        for (int i = 0; i < chunks.Length; i++)
            if ((chunks[i] = found.Carried(i)!) is null) return;
        hot.Add(r.Target.CacheKey, identity, chunks, r.Ttl, r.LookupStarted);
    }

    /// <summary>The identity body's chunks: from the hot copy, what the look-up carried, or read from its owner; null if one is gone.</summary>
    private static async Task<byte[][]?> IdentityChunksAsync(ProxyRequest r, EntryHead identity)
    {
        if (r.HotIdentity is { } hotIdentity) return hotIdentity.Chunks;
        var found = r.Found!;
        var chunks = new byte[identity.ChunkCount][];
        for (int i = 0; i < chunks.Length; i++)
        {
            var chunk = found.Carried(i);
            if (chunk is null)
            {
                try { chunk = (await r.Owner!.ReadChunkAsync(identity.Generation, i)).Value; }
                catch (Exception ex) when (OwnerCalls.IsTransient(ex)) { return null; }
            }
            if (chunk is null) return null;
            chunks[i] = chunk;
        }
        return chunks;
    }

    /// <summary>Served identity, as the hit (or hot copy) it is; carries Vary: Accept-Encoding (<see cref="StoredHead"/>).</summary>
    private async Task<Step> IdentityAsync(ProxyRequest r)
    {
        if (r.HotIdentity is not { } entry) return Step.Hit;
        var ctx = r.Context;
        var cacheStatus = r.Answered(new Answer(AnsweredBy.HotCopy, Ttl: r.Ttl), head.CacheName);
        if (StoredHead.ClientHasFreshCopy(ctx, entry.Head)) head.WriteNotModified(ctx, entry.Head, r.Age, cacheStatus);
        else await body.DeliverHotAsync(ctx, entry, r.Age, cacheStatus);
        return Step.Done;
    }
}
