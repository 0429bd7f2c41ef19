using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Observability;
using Prometheus;

namespace CacheCluster.Node.Management;

/// <summary>
/// This node's Prometheus metrics (GET /metrics on the management port), every series labelled node="&lt;Node:Name&gt;".
/// A registry of its own per node (several nodes may share a process in tests); values are read from the
/// node's counters when scraped, so the request path only increments plain counters.
/// </summary>
public sealed class MetricsExporter : IDisposable
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly RuntimeMetrics _runtime;

    public MetricsExporter(NodeSettings settings, ProxyCounters counters, EntryStore store, StoreCensus census, HotEntries hot,
        AccessLogWriter accessLog, IClusterMembershipService membership, GrainCensus grainCensus, RequestFigures figures,
        Proxy.OriginClient origins)
    {
        _registry.SetStaticLabels(new Dictionary<string, string> { ["node"] = settings.NodeName });
        var f = Metrics.WithCustomRegistry(_registry);
        var requests = f.CreateCounter("cachecluster_requests_total", "Proxy requests by outcome (hit, miss, stale, revalidated, collapsed, pass, denied, error).", "outcome");
        var clientBytes = f.CreateCounter("cachecluster_client_bytes_total", "Bytes sent to proxy clients (headers and bodies, CONNECT tunnels included).");
        var originBytes = f.CreateCounter("cachecluster_origin_bytes_total", "Bytes received from origins (headers and bodies).");
        var fetches = f.CreateCounter("cachecluster_origin_fetches_total", "Requests sent to origins.");
        var latency = f.CreateHistogram("cachecluster_origin_fetch_duration_seconds", "Time from sending a request to an origin to its response headers.",
            new HistogramConfiguration { Buckets = ProxyCounters.LatencyBounds });
        var storeDisk = f.CreateGauge("cachecluster_store_disk_bytes", "Bytes of the store's files on disk.");
        var storeLog = f.CreateGauge("cachecluster_store_log_bytes", "Live bytes of the store's log (memory and disk).");
        var storeEntries = f.CreateGauge("cachecluster_store_entries", "Whole entries in this node's store.");
        var storeBodyBytes = f.CreateGauge("cachecluster_store_body_bytes", "Body bytes of the entries in this node's store.");
        var evictedEntries = f.CreateCounter("cachecluster_store_evicted_entries_total", "Entries evicted by the disk budget (unused when their turn came).");
        var evictedEntryBytes = f.CreateCounter("cachecluster_store_evicted_entry_bytes_total", "Bytes (body and header) of the evicted entries.");
        var movedEntries = f.CreateCounter("cachecluster_store_moved_entries_total", "Entries kept by copying them forward whole (used since last written, or being read).");
        var movedBytes = f.CreateCounter("cachecluster_store_moved_bytes_total", "Bytes written by copying entries forward (the eviction policy's extra writes).");
        var writeWaits = f.CreateCounter("cachecluster_store_write_waits_total", "Store writes that waited for room (a checkpoint starting, or eviction waiting for the reinserter's copies).");
        var forcedCuts = f.CreateCounter("cachecluster_store_forced_cuts_total", "Evictions that went ahead before the reinserter had decided about every entry below the cut (it was stuck for 250 ms): used entries may have been evicted.");
        var writeWaitSeconds = f.CreateCounter("cachecluster_store_write_wait_seconds_total", "Time those writes waited, in all.");
        var aborted = f.CreateCounter("cachecluster_responses_aborted_total", "Responses cut off mid-body (the client saw a short body), by cause.", "cause");
        var continued = f.CreateCounter("cachecluster_body_continuations_total", "Hits whose stored body broke off mid-delivery and were finished from the origin with If-Range.");
        var evictions = f.CreateCounter("cachecluster_store_evictions_total", "Times the disk budget evicted the oldest part of the log.");
        var evictedBytes = f.CreateCounter("cachecluster_store_evicted_bytes_total", "Log bytes evicted by the disk budget.");
        var checkpoints = f.CreateCounter("cachecluster_store_checkpoints_total", "Store checkpoints completed.");
        var storeFailures = f.CreateCounter("cachecluster_store_failures_total", "Failed store writes, page flushes and checkpoints (a full disk, I/O errors).");
        var storeHealthy = f.CreateGauge("cachecluster_store_healthy", "1 while the store works; 0 while it is failing (requests bypass the cache until it recovers).");
        var hotEntries = f.CreateGauge("cachecluster_hot_entries", "Hot copies of popular entries held in this node's memory.");
        var hotBytes = f.CreateGauge("cachecluster_hot_bytes", "Bytes of the hot copies held in this node's memory.");
        var members = f.CreateGauge("cachecluster_cluster_active_nodes", "Active nodes in the cluster, as this node sees the membership.");
        var activations = f.CreateGauge("cachecluster_grain_activations", "Grain activations on this node by grain type (CacheEntryGrain: entries with an active owner here; refreshed at most every 15 s).", "grain");
        var dropped = f.CreateCounter("cachecluster_access_log_dropped_total", "Access-log lines dropped because the writer fell behind.");

        var duration = f.CreateHistogram("cachecluster_request_duration_seconds",
            "Proxy requests from their start to their last byte sent, by outcome (CONNECT: the tunnel's life).",
            new HistogramConfiguration { Buckets = RequestFigures.DurationBounds, LabelNames = ["outcome"] });
        var statuses = f.CreateCounter("cachecluster_responses_total", "Proxy responses by status class (1xx..5xx; other: none sent).", "code");
        var inFlight = f.CreateGauge("cachecluster_requests_in_flight", "Proxy requests (and CONNECT tunnels) not finished yet.");
        var tunnels = f.CreateGauge("cachecluster_tunnels_open", "CONNECT tunnels open now.");
        var rejections = f.CreateCounter("cachecluster_rejections_total",
            "Requests the proxy refused itself, by reason (rule: an access rule; auth: 407; rate: per-client or per-user limit; guard: the destination guard; connect-port; other).", "reason");
        var parentUp = f.CreateGauge("cachecluster_parent_up",
            "1 while a parent proxy (Upstream:Parents) counts as up, 0 while its URLs go elsewhere (connect failures; the health check brings it back).", "parent");
        _runtime = new RuntimeMetrics(_registry);

        var durationByOutcome = Enum.GetValues<RequestOutcome>().Select(o => duration.WithLabels(o.ToString().ToLowerInvariant())).ToArray();
        figures.DurationObserved = (outcome, seconds) => durationByOutcome[(int)outcome].Observe(seconds);
        counters.LatencyObserved = latency.Observe;
        _registry.AddBeforeCollectCallback(() =>
        {
            foreach (var outcome in Enum.GetValues<RequestOutcome>())
                requests.WithLabels(outcome.ToString().ToLowerInvariant()).IncTo(counters.Outcome(outcome));
            var c = counters.Snapshot(0, 0, 0);
            clientBytes.IncTo(c.BytesToClients);
            originBytes.IncTo(c.BytesFromOrigins);
            fetches.IncTo(c.OriginFetches);
            var s = store.GetStats();
            storeDisk.Set(s.DiskBytes);
            storeLog.Set(s.LogBytes);
            evictions.IncTo(s.Evictions);
            evictedBytes.IncTo(s.EvictedBytes);
            checkpoints.IncTo(s.Checkpoints);
            storeFailures.IncTo(store.Failures);
            storeHealthy.Set(store.IsHealthy ? 1 : 0);
            storeEntries.Set(s.Entries);
            storeBodyBytes.Set(s.BodyBytes);
            evictedEntries.IncTo(s.EvictedEntries);
            evictedEntryBytes.IncTo(s.EvictedEntryBytes);
            movedEntries.IncTo(s.MovedEntries);
            movedBytes.IncTo(s.MovedBytes);
            writeWaits.IncTo(s.WriteWaits);
            writeWaitSeconds.IncTo(s.WriteWaitMs / 1000.0);
            forcedCuts.IncTo(s.ForcedCuts);
            foreach (var cause in Enum.GetValues<BodyAbortCause>())
                aborted.WithLabels(CauseLabel(cause)).IncTo(counters.BodyAborts(cause));
            continued.IncTo(counters.BodyContinuations);
            hotEntries.Set(hot.Count);
            hotBytes.Set(hot.Bytes);
            members.Set(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active));
            dropped.IncTo(accessLog.Dropped);
            var census = grainCensus.Last();
            // A grain type with no activation left is absent from the census: it reads 0, not its last count.
            foreach (var labels in activations.GetAllLabelValues())
                if (!census.Any(c => c.Type == labels[0])) activations.WithLabels(labels).Set(0);
            foreach (var (type, count) in census) activations.WithLabels(type).Set(count);
            for (int k = 1; k <= 5; k++) statuses.WithLabels($"{k}xx").IncTo(figures.StatusClass(k));
            statuses.WithLabels("other").IncTo(figures.StatusClass(0));
            inFlight.Set(figures.InFlight);
            foreach (var (parent, up) in origins.ParentHealth()) parentUp.WithLabels(parent).Set(up ? 1 : 0);
            tunnels.Set(figures.TunnelsOpen);
            foreach (var reason in Enum.GetValues<RejectionReason>())
                rejections.WithLabels(reason == RejectionReason.ConnectPort ? "connect-port" : reason.ToString().ToLowerInvariant()).IncTo(figures.Rejections(reason));
        });
    }

    private static string CauseLabel(BodyAbortCause cause) => cause switch
    {
        BodyAbortCause.StoreChunkMissing => "store-chunk-missing",
        BodyAbortCause.OwnerUnreachable => "owner-unreachable",
        _ => "fill-lost",
    };

    public Task WriteAsync(Stream output, CancellationToken ct) => _registry.CollectAndExportAsTextAsync(output, ct);

    public void Dispose() => _runtime.Dispose();
}
