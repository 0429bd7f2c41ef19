using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using CacheCluster.Contracts.Entries;
using CacheCluster.Contracts.Management;
using CacheCluster.Management.V1;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy;
using Grpc.Core;

namespace CacheCluster.Node.Management;

/// <summary>
/// The management API (src/Contracts/management.proto). Any node answers for the whole cluster by
/// asking every active node's <see cref="IManagementNodeGrain"/>; a node that does not answer is reported
/// with its error instead of failing the call.
/// </summary>
public sealed partial class ManagementService(
    NodeSettings settings,
    ClusterNodes cluster,
    EntryOwners owners,
    RuntimePolicy policy,
    WarmClient warm,
    ClusterPurge purge) : CacheManagement.CacheManagementBase
{
    public override async Task<ClusterStatus> GetClusterStatus(ClusterStatusRequest request, ServerCallContext context)
    {
        var answers = await cluster.AskAllAsync(g => g.GetReportAsync(), context.CancellationToken);
        var reply = new ClusterStatus { AnsweredBy = settings.NodeName };
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var a in answers)
        {
            var status = new NodeStatus { Name = a.Name, Address = a.Address };
            if (a.Value is { } r)
            {
                status.State = r.State;
                status.UptimeSeconds = (now - r.StartedAtUnixMs) / 1000;
                status.Version = r.Version;
                status.Entries = r.Counters.StoreEntries;
                status.StoreBytes = r.Counters.StoreBytes;
                status.HitRatio = ProxyCounters.HitRatio(r.Counters);
                status.RssBytes = r.RssBytes;
                status.CpuSeconds = r.CpuSeconds;
                status.ProxyAddresses.AddRange(r.ProxyAddresses);
                status.ManagementAddresses.AddRange(r.ManagementAddresses);
            }
            else
            {
                status.State = "Unreachable";
                status.Error = a.Error ?? "";
            }
            reply.Nodes.Add(status);
        }
        return reply;
    }

    public override Task<Stats> GetStats(StatsRequest request, ServerCallContext context) =>
        CollectStatsAsync(request.Node, context.CancellationToken);

    public override async Task WatchStats(WatchStatsRequest request, IServerStreamWriter<Stats> responseStream, ServerCallContext context)
    {
        if (request.IntervalSeconds is < 0 or > 3600)
            throw Invalid("interval_seconds", $"must be from 1 to 3600 (got {request.IntervalSeconds}; 0 means 5)");
        var interval = TimeSpan.FromSeconds(request.IntervalSeconds == 0 ? 5 : request.IntervalSeconds);
        var ct = context.CancellationToken;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await responseStream.WriteAsync(await CollectStatsAsync(request.Node, ct), ct);
                await Task.Delay(interval, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
    }

    private async Task<Stats> CollectStatsAsync(string node, CancellationToken ct)
    {
        InputLimits.Checked(node, "node", InputLimits.MaxNameChars);
        if (node.Length > 0 && cluster.Active().All(n => n.Name != node))
            throw new RpcException(new Status(StatusCode.NotFound, $"no active node is named '{node}' (see cachectl status)"));
        var answers = await cluster.AskAllAsync(g => g.GetReportAsync(), ct, node.Length > 0 ? node : null);
        var stats = new Stats { AtUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
        var sum = new NodeCounterValues { OriginLatencyBounds = ProxyCounters.LatencyBounds, OriginLatencyBuckets = new long[ProxyCounters.LatencyBounds.Length] };
        foreach (var a in answers)
        {
            var entry = new NodeCounters { Node = a.Name };
            if (a.Value is { } r)
            {
                entry.Counters = ToProto(r.Counters);
                sum = Add(sum, r.Counters);
            }
            else entry.Error = a.Error ?? "";
            stats.Nodes.Add(entry);
        }
        stats.Cluster = ToProto(sum);
        return stats;
    }

    public override async Task<PurgeReply> Purge(PurgeRequest request, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        PurgeMatch match;
        switch (request.TargetCase)
        {
            case PurgeRequest.TargetOneofCase.Url:
                // One URL: its owner grain removes it and its variants.
                return ToProto(await purge.UrlAsync(UrlKey(request.Url, "url"), ct));
            case PurgeRequest.TargetOneofCase.Host:
                InputLimits.Checked(request.Host, "host", InputLimits.MaxNameChars);
                if (string.IsNullOrWhiteSpace(request.Host) || request.Host.Contains('/'))
                    throw Invalid("host", $"'{request.Host}' is not a host name (examples: example.org, example.org:8080)");
                match = new PurgeMatch(PurgeKind.Host, request.Host.Trim());
                break;
            case PurgeRequest.TargetOneofCase.Prefix:
                match = new PurgeMatch(PurgeKind.Prefix, PrefixKey(request.Prefix));
                break;
            case PurgeRequest.TargetOneofCase.SurrogateKey:
                InputLimits.Checked(request.SurrogateKey, "surrogate_key", InputLimits.MaxNameChars);
                if (string.IsNullOrWhiteSpace(request.SurrogateKey) || request.SurrogateKey.Trim().Contains(' ') || request.SurrogateKey.Contains(','))
                    throw Invalid("surrogate_key", "must be one key (no spaces or commas)");
                match = new PurgeMatch(PurgeKind.SurrogateKey, request.SurrogateKey.Trim());
                break;
            default:
                throw Invalid("target", "set one of url, host, prefix, surrogate_key");
        }
        return ToProto(await purge.MatchAsync(match, ct));
    }

    private static PurgeReply ToProto(PurgeResult result)
    {
        var reply = new PurgeReply { Purged = result.Purged };
        foreach (var n in result.Nodes) reply.Nodes.Add(new NodePurge { Node = n.Node, Purged = n.Purged, Error = n.Error ?? "" });
        return reply;
    }

    public override async Task<InspectReply> Inspect(InspectRequest request, ServerCallContext context)
    {
        var key = UrlKey(request.Url, "url");
        var reply = new InspectReply { Url = request.Url, CacheKey = key };
        var info = await owners.For(key).InspectAsync();
        reply.Owner = info.Owner;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        if (info.Head is { } head && seen.Add(head.CacheKey)) reply.Variants.Add(ToVariant(head, info));
        // Variants live under their own keys ("<url key>\n<variant>"), possibly on other owners: look in every store.
        var found = await cluster.AskAllAsync(g => g.FindAsync(key), context.CancellationToken, timeout: ClusterNodes.ScanTimeout);
        foreach (var h in found.SelectMany(a => a.Value ?? []))
        {
            if (!seen.Add(h.CacheKey)) continue;
            var variantInfo = await owners.For(h.CacheKey).InspectAsync();
            if (variantInfo.Head is { } vh) reply.Variants.Add(ToVariant(vh, variantInfo));
        }
        if (reply.Variants.Count == 0)
            throw new RpcException(new Status(StatusCode.NotFound, $"{key} is not in the cache (owner: {info.Owner})"));
        return reply;
    }

    public override async Task Warm(IAsyncStreamReader<WarmRequest> requestStream, IServerStreamWriter<WarmResult> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        var results = Channel.CreateUnbounded<WarmResult>(new UnboundedChannelOptions { SingleReader = true });
        var writer = Task.Run(async () =>
        {
            await foreach (var r in results.Reader.ReadAllAsync(ct)) await responseStream.WriteAsync(r, ct);
        }, ct);
        SemaphoreSlim? slots = null;
        var running = new List<Task>();
        try
        {
            await foreach (var item in requestStream.ReadAllAsync(ct))
            {
                if (slots is null)
                {
                    if (item.Concurrency is < 0 or > 64) throw Invalid("concurrency", $"must be from 1 to 64 (got {item.Concurrency}; 0 means 8)");
                    slots = new SemaphoreSlim(item.Concurrency == 0 ? 8 : item.Concurrency);
                }
                await slots.WaitAsync(ct);
                var url = InputLimits.Checked(item.Url, "url", InputLimits.MaxUrlChars);
                running.Add(Task.Run(async () =>
                {
                    try { results.Writer.TryWrite(await warm.FetchAsync(url, ct)); }
                    finally { slots.Release(); }
                }, ct));
                running.RemoveAll(t => t.IsCompleted);
            }
            await Task.WhenAll(running);
        }
        finally
        {
            results.Writer.TryComplete();
        }
        await writer;
    }

    public override async Task<DrainReply> Drain(DrainRequest request, ServerCallContext context)
    {
        var name = request.Node.Length == 0 ? settings.NodeName : InputLimits.Checked(request.Node, "node", InputLimits.MaxNameChars);
        var node = cluster.Active().FirstOrDefault(n => n.Name == name);
        if (node.Address is null)
            throw new RpcException(new Status(StatusCode.NotFound, $"no active node is named '{name}' (see cachectl status)"));
        await cluster.Grain(node.Address).DrainAsync();
        return new DrainReply { Node = name, Message = $"{name} is leaving the cluster: it finishes in-flight requests, checkpoints its store and stops" };
    }

    public override Task<CacheCluster.Management.V1.Policy> GetPolicy(GetPolicyRequest request, ServerCallContext context) =>
        Task.FromResult(ToProto(policy.Snapshot()));

    public override async Task<SetPolicyReply> SetPolicy(SetPolicyRequest request, ServerCallContext context)
    {
        if (request.Policy is null) throw Invalid("policy", "is required");
        if (request.Sections.Count > 8) throw Invalid("sections", $"has {request.Sections.Count} entries; at most 8");
        foreach (var s in request.Sections) InputLimits.Checked(s, "sections", InputLimits.MaxNameChars);
        InputLimits.CheckLines(request.Policy.RefreshRules, $"policy.{RuntimePolicy.RefreshRulesSection}");
        InputLimits.CheckLines(request.Policy.AccessRules, $"policy.{RuntimePolicy.AccessRulesSection}");
        string[] sections = request.Sections.Count == 0 ? [RuntimePolicy.RefreshRulesSection, RuntimePolicy.AccessRulesSection] : [.. request.Sections.Distinct()];
        foreach (var s in sections)
            if (s is not (RuntimePolicy.RefreshRulesSection or RuntimePolicy.AccessRulesSection))
                throw Invalid("sections", $"unknown section '{s}' (known: {RuntimePolicy.RefreshRulesSection}, {RuntimePolicy.AccessRulesSection})");
        // One change, one version on every node (a node that took it over meanwhile does not count it twice).
        var snapshot = new PolicySnapshot([.. request.Policy.RefreshRules], [.. request.Policy.AccessRules], policy.Snapshot().Version + 1);
        // Access rules need the access policy; without it only an explicit empty list is accepted.
        if (!policy.Supports(RuntimePolicy.AccessRulesSection))
        {
            if (request.Sections.Contains(RuntimePolicy.AccessRulesSection) || snapshot.AccessRules.Length > 0)
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "this build has no access policy: access_rules cannot be set"));
            sections = [.. sections.Where(s => s != RuntimePolicy.AccessRulesSection)];
        }
        foreach (var s in sections)
            if (policy.Validate(s, RuntimePolicy.LinesOf(snapshot, s)) is { } error) throw Invalid($"policy.{s}", error);
        var answers = await cluster.AskAllAsync(g => g.SetPolicyAsync(snapshot, sections), context.CancellationToken);
        var failed = answers.Where(a => a.Error is not null).ToList();
        if (failed.Count > 0)
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"the policy was applied on {answers.Count - failed.Count} of {answers.Count} node(s); not on: {string.Join("; ", failed.Select(f => $"{f.Name} ({f.Error})"))}. Retry to make every node agree."));
        var reply = new SetPolicyReply { Policy = ToProto(policy.Snapshot()) };
        reply.Nodes.AddRange(answers.Select(a => a.Name));
        return reply;
    }

    public override async Task<TopReply> GetTop(TopRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > 1000) throw Invalid("limit", $"must be from 1 to 1000 (got {request.Limit}; 0 means 20)");
        int limit = request.Limit == 0 ? 20 : request.Limit;
        // Each node's own top, a little deeper than asked, so a key just below the cut on several nodes still sums right more often.
        var answers = await cluster.AskAllAsync(g => g.GetTopAsync(Math.Min(1000, limit * 3), request.ByBytes), context.CancellationToken);
        var reply = new TopReply();
        reply.Urls.AddRange(Merge(answers.SelectMany(a => a.Value?.Urls ?? []), limit, request.ByBytes));
        reply.Hosts.AddRange(Merge(answers.SelectMany(a => a.Value?.Hosts ?? []), limit, request.ByBytes));
        return reply;
    }

    internal static IEnumerable<TopItem> Merge(IEnumerable<TopCount> counts, int limit, bool byBytes) =>
        counts.GroupBy(c => c.Key, StringComparer.Ordinal)
            .Select(g => new TopItem { Key = g.Key, Requests = g.Sum(c => c.Requests), Hits = g.Sum(c => c.Hits), Bytes = g.Sum(c => c.Bytes) })
            .OrderByDescending(i => byBytes ? i.Bytes : i.Requests).Take(limit);

    // ---- helpers ----------------------------------------------------------------------------------------

    private static RpcException Invalid(string field, string message) =>
        new(new Status(StatusCode.InvalidArgument, $"{field}: {message}"));

    /// <summary>The cache key of an absolute http(s) URL, exactly as the proxy makes it.</summary>
    private static string UrlKey(string url, string field)
    {
        if (string.IsNullOrWhiteSpace(url)) throw Invalid(field, "is required (an absolute http(s) URL)");
        InputLimits.Checked(url, field, InputLimits.MaxUrlChars);
        if (!Uri.TryCreate(url.Trim(), new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true }, out var uri)
            || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            throw Invalid(field, $"'{url}' is not an absolute http(s) URL (example: http://example.org/page)");
        return RequestTarget.KeyFor(uri);
    }

    private static string PrefixKey(string prefix)
    {
        if (string.IsNullOrWhiteSpace(prefix)) throw Invalid("prefix", "is required (example: http://example.org/static/)");
        InputLimits.Checked(prefix, "prefix", InputLimits.MaxUrlChars);
        var p = prefix.Trim();
        // Scheme and host are lower-case in cache keys; the path stays byte-for-byte.
        int schemeEnd = p.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0 || p[..schemeEnd].ToLowerInvariant() is not ("http" or "https"))
            throw Invalid("prefix", $"'{prefix}' must start with http:// or https:// (example: http://example.org/static/)");
        int pathStart = p.IndexOf('/', schemeEnd + 3);
        var authority = pathStart < 0 ? p[(schemeEnd + 3)..] : p[(schemeEnd + 3)..pathStart];
        if (authority.Length == 0) throw Invalid("prefix", $"'{prefix}' has no host");
        var scheme = p[..schemeEnd].ToLowerInvariant();
        // The proxy drops default ports from keys.
        if ((scheme == "http" && authority.EndsWith(":80", StringComparison.Ordinal)) || (scheme == "https" && authority.EndsWith(":443", StringComparison.Ordinal)))
            authority = authority[..authority.LastIndexOf(':')];
        return $"{scheme}://{authority.ToLowerInvariant()}{(pathStart < 0 ? "" : p[pathStart..])}";
    }

    private static Variant ToVariant(EntryHead head, EntryInfo info)
    {
        var now = DateTimeOffset.UtcNow;
        var age = Caching.Freshness.CurrentAge(TimeSpan.FromMilliseconds(head.InitialAgeMs), DateTimeOffset.FromUnixTimeMilliseconds(head.ResponseTimeUnixMs), now);
        var v = new Variant
        {
            CacheKey = head.CacheKey,
            Status = head.Status,
            BodyBytes = head.BodyLength,
            StoredAtUnixMs = head.StoredAtUnixMs,
            AgeSeconds = (long)age.TotalSeconds,
            FreshnessLeftSeconds = (long)Math.Floor((TimeSpan.FromMilliseconds(head.LifetimeMs) - age).TotalSeconds),
            Etag = Caching.HeaderPairs.Get(head.Headers, "ETag") ?? "",
            LastModified = Caching.HeaderPairs.Get(head.Headers, "Last-Modified") ?? "",
            Owner = info.Owner,
            Hits = info.Hits,
        };
        for (int i = 0; i + 1 < head.Headers.Length; i += 2) v.Headers.Add(new Header { Name = head.Headers[i], Value = head.Headers[i + 1] });
        return v;
    }

    private static CacheCluster.Management.V1.Policy ToProto(PolicySnapshot p)
    {
        var policy = new CacheCluster.Management.V1.Policy { Version = p.Version };
        policy.RefreshRules.AddRange(p.RefreshRules);
        policy.AccessRules.AddRange(p.AccessRules);
        return policy;
    }

    private static Counters ToProto(NodeCounterValues c)
    {
        var p = new Counters
        {
            Hit = c.Hit, Miss = c.Miss, Stale = c.Stale, Revalidated = c.Revalidated, Collapsed = c.Collapsed,
            Pass = c.Pass, Denied = c.Denied, Error = c.Error, Requests = c.Requests,
            BytesToClients = c.BytesToClients, BytesFromOrigins = c.BytesFromOrigins,
            OriginFetches = c.OriginFetches, OriginLatencySecondsSum = c.OriginLatencySecondsSum,
            StoreBytes = c.StoreBytes, StoreEntries = c.StoreEntries, Evictions = c.Evictions,
            HitRatio = ProxyCounters.HitRatio(c),
        };
        p.OriginLatencyBounds.AddRange(c.OriginLatencyBounds);
        p.OriginLatencyBuckets.AddRange(c.OriginLatencyBuckets);
        return p;
    }

    private static NodeCounterValues Add(NodeCounterValues a, NodeCounterValues b) => a with
    {
        Hit = a.Hit + b.Hit, Miss = a.Miss + b.Miss, Stale = a.Stale + b.Stale, Revalidated = a.Revalidated + b.Revalidated,
        Collapsed = a.Collapsed + b.Collapsed, Pass = a.Pass + b.Pass, Denied = a.Denied + b.Denied, Error = a.Error + b.Error,
        BytesToClients = a.BytesToClients + b.BytesToClients, BytesFromOrigins = a.BytesFromOrigins + b.BytesFromOrigins,
        OriginFetches = a.OriginFetches + b.OriginFetches, OriginLatencySecondsSum = a.OriginLatencySecondsSum + b.OriginLatencySecondsSum,
        OriginLatencyBuckets = [.. a.OriginLatencyBuckets.Zip(b.OriginLatencyBuckets.Length == a.OriginLatencyBuckets.Length ? b.OriginLatencyBuckets : new long[a.OriginLatencyBuckets.Length], (x, y) => x + y)],
        StoreBytes = a.StoreBytes + b.StoreBytes, StoreEntries = a.StoreEntries + b.StoreEntries, Evictions = a.Evictions + b.Evictions,
    };
}
