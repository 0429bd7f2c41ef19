using System.Globalization;
using CacheCluster.Management.V1;
using Grpc.Core;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace CacheCluster.Ctl;

/// <summary>
/// <c>cachectl top</c>: the hottest URLs (or hosts) cluster-wide from GetTop, once or, with --watch, redrawn in
/// place every interval (piped: one table per update). Counts decay (halved every minute on each node), so
/// they read as "requests in about the last two minutes".
/// </summary>
public static class Top
{
    public static async Task<int> RunAsync((Connection Conn, Commands.Context Ctx) c, bool hosts, bool byBytes, int limit, bool watch, int interval, int count, CancellationToken ct)
    {
        var request = new TopRequest { Limit = limit, ByBytes = byBytes };
        if (!watch)
        {
            var reply = await c.Conn.Client.GetTopAsync(request, c.Conn.Options(ct));
            if (c.Ctx.Json) Console.Out.WriteLine(Google.Protobuf.JsonFormatter.Default.Format(reply));
            else AnsiConsole.Write(Render(reply, hosts, byBytes));
            return ExitCodes.Ok;
        }
        var delay = TimeSpan.FromSeconds(Math.Clamp(interval, 1, 3600));
        int shown = 0;
        try
        {
            if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive && !c.Ctx.Json)
            {
                await AnsiConsole.Live(new Text("asking the cluster…")).AutoClear(false).StartAsync(async live =>
                {
                    while (!ct.IsCancellationRequested && (count <= 0 || shown++ < count))
                    {
                        live.UpdateTarget(Render(await c.Conn.Client.GetTopAsync(request, c.Conn.Options(ct)), hosts, byBytes));
                        live.Refresh();
                        await Task.Delay(delay, ct);
                    }
                });
            }
            else
            {
                while (!ct.IsCancellationRequested && (count <= 0 || shown++ < count))
                {
                    var reply = await c.Conn.Client.GetTopAsync(request, c.Conn.Options(ct));
                    if (c.Ctx.Json) Console.Out.WriteLine(Google.Protobuf.JsonFormatter.Default.Format(reply));
                    else { AnsiConsole.Write(Render(reply, hosts, byBytes)); AnsiConsole.WriteLine(); }
                    if (count <= 0 || shown < count) await Task.Delay(delay, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested) { }
        return ExitCodes.Ok;
    }

    private static IRenderable Render(TopReply reply, bool hosts, bool byBytes)
    {
        var items = hosts ? reply.Hosts : reply.Urls;
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn(new TableColumn("#").RightAligned())
            .AddColumn(hosts ? "host" : "URL")
            .AddColumn(new TableColumn("requests").RightAligned())
            .AddColumn(new TableColumn("hit").RightAligned())
            .AddColumn(new TableColumn("bytes").RightAligned());
        int rank = 0;
        foreach (var i in items)
            table.AddRow((++rank).ToString(CultureInfo.InvariantCulture), Markup.Escape(i.Key),
                i.Requests.ToString("N0", CultureInfo.InvariantCulture),
                i.Requests > 0 ? (i.Hits / i.Requests).ToString("P0", CultureInfo.InvariantCulture) : "-",
                Commands.Bytes((long)i.Bytes));
        var title = $"[grey]{DateTimeOffset.UtcNow:u} · hottest {(hosts ? "hosts" : "URLs")} by {(byBytes ? "bytes" : "requests")} (about the last two minutes, cluster-wide)[/]";
        return items.Count == 0 ? new Markup(title + "\n(no traffic recently)\n") : new Rows(new Markup(title), table);
    }
}
