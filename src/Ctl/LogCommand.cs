using CacheCluster.Management.V1;
using Google.Protobuf;
using Grpc.Core;

namespace CacheCluster.Ctl;

/// <summary>
/// <c>cachectl log</c>: the access log of every node, live (like varnishncsa): one Squid-format line per request
/// as the nodes' access logs write them, or with --json one JSON object per line with the node's name.
/// Messages about the stream itself (started, lines lost) go to standard error, so standard output stays a log.
/// </summary>
public static class LogCommand
{
    private static readonly JsonFormatter JsonLine = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    public static async Task<int> RunAsync((Connection Conn, Commands.Context Ctx) c, string[] outcomes, string? host, string? client, string? node, int count, CancellationToken ct)
    {
        var request = new AccessLogRequest { Host = host ?? "", Client = client ?? "", Node = node ?? "" };
        // --outcome hit --outcome miss, or --outcome hit,miss
        request.Outcomes.AddRange(outcomes.SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = c.Conn.Client.StreamAccessLog(request, c.Conn.Options(stop.Token, streaming: true));
        int shown = 0;
        bool started = false;
        try
        {
            await foreach (var batch in call.ResponseStream.ReadAllAsync(stop.Token))
            {
                if (!started)
                {
                    started = true;
                    Console.Error.WriteLine($"cachectl: watching the access log of {(node is { Length: > 0 } ? node : "every node")} through {c.Conn.Address} (Ctrl+C to stop)");
                }
                if (batch.Dropped > 0) Console.Error.WriteLine($"cachectl: {batch.Dropped} line(s) lost: this watcher fell behind the traffic");
                foreach (var e in batch.Entries)
                {
                    Console.Out.WriteLine(c.Ctx.Json ? JsonLine.Format(e) : e.SquidLine);
                    if (count > 0 && ++shown >= count) { stop.Cancel(); break; }
                }
                Console.Out.Flush();
                if (stop.IsCancellationRequested) break;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && stop.IsCancellationRequested) { }
        return ExitCodes.Ok;
    }
}
