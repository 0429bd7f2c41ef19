using CacheCluster.Contracts.Management;
using CacheCluster.Management.V1;
using CacheCluster.Node.Management.AccessLog;
using Grpc.Core;

namespace CacheCluster.Node.Management;

/// <summary>StreamAccessLog: every node's live access log through the node answering the call (cachectl log).</summary>
public sealed partial class ManagementService
{
    /// <summary>How often the answering node collects from every node: lines reach the watcher within about this.</summary>
    public static readonly TimeSpan LogPollInterval = TimeSpan.FromMilliseconds(500);

    private const int LogPollMax = 1000;

    public override async Task StreamAccessLog(AccessLogRequest request, IServerStreamWriter<AccessLogBatch> responseStream, ServerCallContext context)
    {
        var ct = context.CancellationToken;
        if (request.Outcomes.Count > 8) throw Invalid("outcomes", $"has {request.Outcomes.Count} entries; at most 8");
        foreach (var o in request.Outcomes) InputLimits.Checked(o, "outcomes", InputLimits.MaxNameChars);
        InputLimits.Checked(request.Host, "host", InputLimits.MaxNameChars);
        InputLimits.Checked(request.Client, "client", InputLimits.MaxNameChars);
        InputLimits.Checked(request.Node, "node", InputLimits.MaxNameChars);
        var filter = new LogFilter([.. request.Outcomes], request.Host.Length > 0 ? request.Host : null, request.Client.Length > 0 ? request.Client : null);
        try { LiveAccessLog.Matcher.Parse(filter); }
        catch (ArgumentException ex) { throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message)); }
        string? only = request.Node.Length > 0 ? request.Node : null;
        if (only is not null && cluster.Active().All(n => n.Name != only))
            throw new RpcException(new Status(StatusCode.NotFound, $"no active node is named '{only}' (see cachectl status)"));

        // Each node buffers for this watcher from its first poll on (nodes that join later: from the next round).
        var watcher = Guid.NewGuid();
        try
        {
            bool first = true;
            while (!ct.IsCancellationRequested)
            {
                var answers = await cluster.AskAllAsync(g => g.PollLogAsync(watcher, filter, LogPollMax), ct, only, LogPollInterval * 20);
                var batch = new AccessLogBatch();
                bool more = false;
                foreach (var a in answers)
                {
                    if (a.Value is not { } b) continue;
                    batch.Dropped += b.Dropped;
                    more |= b.Lines.Length >= LogPollMax;
                    foreach (var l in b.Lines) batch.Entries.Add(ToProto(a.Name, l));
                }
                // Nodes' lines interleaved by completion time, as one log would have them.
                if (answers.Count > 1 && batch.Entries.Count > 1)
                {
                    var sorted = batch.Entries.OrderBy(e => e.TimeUnixMs).ToList();
                    batch.Entries.Clear();
                    batch.Entries.AddRange(sorted);
                }
                // The first (possibly empty) batch tells the client every node is now collecting for it.
                if (first || batch.Entries.Count > 0 || batch.Dropped > 0) await responseStream.WriteAsync(batch, ct);
                first = false;
                if (!more) await Task.Delay(LogPollInterval, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        finally
        {
            // Tell the nodes at once (those that do not hear it forget the watcher after LiveAccessLog.Idle).
            _ = cluster.AskAllAsync(async g => { await g.StopLogAsync(watcher); return true; }, CancellationToken.None, only, TimeSpan.FromSeconds(5));
        }
    }

    private static AccessLogEntry ToProto(string node, LogLine l) => new()
    {
        Node = node, TimeUnixMs = l.TimeUnixMs, ElapsedMs = l.ElapsedMs, Client = l.Client, Outcome = l.Outcome,
        SquidCode = l.SquidCode, Status = l.Status, Bytes = l.Bytes, Method = l.Method, Url = l.Url, User = l.User ?? "",
        Hierarchy = l.Hierarchy, Peer = l.Peer ?? "", ContentType = l.ContentType ?? "", CacheStatus = l.CacheStatus ?? "",
        SquidLine = l.SquidLine,
    };
}
