using System.Globalization;
using CacheCluster.Management.V1;
using Grpc.Core;
using Spectre.Console;

namespace CacheCluster.Ctl;

/// <summary>
/// <c>cachectl stats --watch</c>: per-second rates between consecutive updates of the WatchStats stream, per
/// node and for the cluster, next to the cluster's totals (like varnishstat). On a terminal the table is redrawn
/// in place (Spectre's live display); piped, one table per update is appended.
/// </summary>
public static class LiveStats
{
    public static async Task<int> WatchAsync(CacheManagement.CacheManagementClient client, CallOptions options, string? node, int interval, int count, CancellationToken ct)
    {
        using var call = client.WatchStats(new WatchStatsRequest { IntervalSeconds = interval, Node = node ?? "" }, options);
        Stats? previous = null;
        int shown = 0;
        var live = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        try
        {
            if (live)
            {
                await AnsiConsole.Live(new Text("waiting for the first update…")).AutoClear(false).StartAsync(async ctx =>
                {
                    await foreach (var stats in call.ResponseStream.ReadAllAsync(ct))
                    {
                        ctx.UpdateTarget(Render(previous, stats, interval));
                        ctx.Refresh();
                        previous = stats;
                        if (count > 0 && ++shown >= count) break;
                    }
                });
            }
            else
            {
                await foreach (var stats in call.ResponseStream.ReadAllAsync(ct))
                {
                    AnsiConsole.Write(Render(previous, stats, interval));
                    AnsiConsole.WriteLine();
                    previous = stats;
                    if (count > 0 && ++shown >= count) break;
                }
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested) { }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        return ExitCodes.Ok;
    }

    private static Spectre.Console.Rendering.IRenderable Render(Stats? previous, Stats now, int interval) =>
        new Rows(new Markup($"[grey]{DateTimeOffset.FromUnixTimeMilliseconds(now.AtUnixMs):u} · every {interval} s · Ctrl+C to stop[/]"), Table(previous, now));

    private static Table Table(Stats? previous, Stats now)
    {
        double seconds = previous is null ? 0 : (now.AtUnixMs - previous.AtUnixMs) / 1000.0;
        var before = previous?.Nodes.ToDictionary(n => n.Node, n => n.Counters) ?? [];
        var columns = now.Nodes.Select(n => (Name: n.Node, Now: n.Counters, Before: before.GetValueOrDefault(n.Node), n.Error)).ToList();
        if (now.Nodes.Count > 1) columns.Add(("cluster", now.Cluster, previous?.Cluster, ""));
        var table = new Table().Border(TableBorder.Simple).AddColumn("");
        foreach (var col in columns) table.AddColumn(new TableColumn(Markup.Escape(col.Name) + " /s").RightAligned());
        table.AddColumn(new TableColumn("total").RightAligned());

        string Rate(Counters? b, Counters? n, Func<Counters, long> f) =>
            b is null || n is null || seconds <= 0 ? "-" : Math.Max(0, (f(n) - f(b)) / seconds).ToString("N1", CultureInfo.InvariantCulture);
        void Row(string label, Func<Counters, long> f, Func<long, string>? total = null, Func<double, string>? rate = null)
        {
            var cells = columns.Select(c => c.Now is null ? $"[red]{Markup.Escape(c.Error)}[/]"
                : rate is not null && c.Before is not null && seconds > 0 ? rate(Math.Max(0, (f(c.Now) - f(c.Before)) / seconds)) : Rate(c.Before, c.Now, f));
            var t = now.Cluster is null ? "-" : (total ?? (v => v.ToString("N0", CultureInfo.InvariantCulture)))(f(now.Cluster));
            table.AddRow([label, .. cells, t]);
        }
        void Ratio(string label, Func<Counters, Counters, string> f, string total)
        {
            var cells = columns.Select(c => c.Now is null || c.Before is null || seconds <= 0 ? "-" : f(c.Before, c.Now));
            table.AddRow([label, .. cells, total]);
        }
        string Bps(double v) => Commands.Bytes((long)v) + "/s";

        Row("requests", k => k.Requests);
        Row("  hit", k => k.Hit);
        Row("  miss", k => k.Miss);
        Row("  stale", k => k.Stale);
        Row("  revalidated", k => k.Revalidated);
        Row("  collapsed", k => k.Collapsed);
        Row("  pass", k => k.Pass);
        Row("  denied", k => k.Denied);
        Row("  error", k => k.Error);
        Ratio("hit ratio", (b, n) => Percent(n.Hit + n.Stale - b.Hit - b.Stale,
            n.Hit + n.Stale + n.Miss + n.Revalidated + n.Collapsed + n.Pass - (b.Hit + b.Stale + b.Miss + b.Revalidated + b.Collapsed + b.Pass)),
            now.Cluster is null ? "-" : now.Cluster.HitRatio.ToString("P1", CultureInfo.InvariantCulture));
        Ratio("byte hit ratio", (b, n) => n.BytesToClients - b.BytesToClients is var sent and > 0
            ? Math.Clamp(1 - (double)(n.BytesFromOrigins - b.BytesFromOrigins) / sent, 0, 1).ToString("P1", CultureInfo.InvariantCulture) : "-",
            now.Cluster is { BytesToClients: > 0 } c ? Math.Clamp(1 - (double)c.BytesFromOrigins / c.BytesToClients, 0, 1).ToString("P1", CultureInfo.InvariantCulture) : "-");
        Row("bytes to clients", k => k.BytesToClients, Commands.Bytes, Bps);
        Row("bytes from origins", k => k.BytesFromOrigins, Commands.Bytes, Bps);
        Row("origin fetches", k => k.OriginFetches);
        Ratio("origin latency avg", (b, n) => n.OriginFetches - b.OriginFetches is var f and > 0
            ? $"{(n.OriginLatencySecondsSum - b.OriginLatencySecondsSum) / f * 1000:0.0} ms" : "-",
            now.Cluster is { OriginFetches: > 0 } o ? $"{o.OriginLatencySecondsSum / o.OriginFetches * 1000:0.0} ms" : "-");
        Row("evictions", k => k.Evictions);
        table.AddRow(["store entries (now)", .. columns.Select(c => c.Now is null ? "" : c.Now.StoreEntries.ToString("N0", CultureInfo.InvariantCulture)),
            now.Cluster?.StoreEntries.ToString("N0", CultureInfo.InvariantCulture) ?? "-"]);
        table.AddRow(["store size (now)", .. columns.Select(c => c.Now is null ? "" : Commands.Bytes(c.Now.StoreBytes)), now.Cluster is null ? "-" : Commands.Bytes(now.Cluster.StoreBytes)]);
        return table;
    }

    private static string Percent(long part, long whole) => whole <= 0 ? "-" : ((double)part / whole).ToString("P1", CultureInfo.InvariantCulture);
}
