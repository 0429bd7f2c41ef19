using System.Globalization;
using CacheCluster.Management.V1;
using Google.Protobuf;
using Grpc.Core;
using Spectre.Console;

namespace CacheCluster.Ctl;

/// <summary>One method per subcommand: call the API, print a table (or JSON), return the exit code.</summary>
public static class Commands
{
    public sealed record Context(string? Address, string? Token, bool Json, bool Insecure, TimeSpan Timeout);

    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());
    private static readonly JsonFormatter JsonLine = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>Runs one command: connection errors and gRPC statuses become a message and an exit code.</summary>
    public static async Task<int> Run(Context ctx, CancellationToken ct, Func<(Connection Conn, Context Ctx), CancellationToken, Task<int>> command)
    {
        try
        {
            using var conn = new Connection(ctx.Address, ctx.Token, ctx.Insecure, ctx.Timeout);
            try { return await command((conn, ctx), ct); }
            catch (RpcException ex)
            {
                var detail = ex.StatusCode == StatusCode.Unavailable && ex.Status.DebugException is { } inner
                    ? $"cannot reach {conn.Address}: {inner.Message}" : ex.Status.Detail;
                Console.Error.WriteLine($"cachectl: {ex.StatusCode}: {detail}");
                return ExitCodes.For(ex.StatusCode);
            }
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"cachectl: {ex.Message}");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 130;
        }
    }

    private static void PrintJson(IMessage message, bool line = false) => Console.Out.WriteLine((line ? JsonLine : Json).Format(message));

    public static async Task<int> StatusAsync((Connection Conn, Context Ctx) c, CancellationToken ct)
    {
        var reply = await c.Conn.Client.GetClusterStatusAsync(new ClusterStatusRequest(), c.Conn.Options(ct));
        if (c.Ctx.Json) { PrintJson(reply); return ExitCodes.Ok; }
        var table = new Table().Title($"[bold]{reply.Nodes.Count} node(s)[/] (answered by {Markup.Escape(reply.AnsweredBy)})")
            .AddColumns("node", "state", "uptime", "version", "entries", "store", "hit ratio", "proxy", "address");
        foreach (var n in reply.Nodes)
            table.AddRow(Markup.Escape(n.Name), n.State == "Active" ? "[green]Active[/]" : $"[red]{Markup.Escape(n.State)}[/]",
                Uptime(n.UptimeSeconds), Markup.Escape(n.Version), n.Entries.ToString("N0", CultureInfo.InvariantCulture), Bytes(n.StoreBytes),
                n.HitRatio.ToString("P1", CultureInfo.InvariantCulture), Markup.Escape(string.Join(" ", n.ProxyAddresses)),
                Markup.Escape(n.Error.Length > 0 ? $"{n.Address} ({n.Error})" : n.Address));
        AnsiConsole.Write(table);
        return reply.Nodes.Any(n => n.Error.Length > 0) ? ExitCodes.Partial : ExitCodes.Ok;
    }

    public static async Task<int> StatsAsync((Connection Conn, Context Ctx) c, string? node, bool watch, int interval, int count, CancellationToken ct)
    {
        if (!watch)
        {
            var stats = await c.Conn.Client.GetStatsAsync(new StatsRequest { Node = node ?? "" }, c.Conn.Options(ct));
            if (c.Ctx.Json) PrintJson(stats); else PrintStats(stats);
            return stats.Nodes.Any(n => n.Error.Length > 0) ? ExitCodes.Partial : ExitCodes.Ok;
        }
        if (!c.Ctx.Json) return await LiveStats.WatchAsync(c.Conn.Client, c.Conn.Options(ct, streaming: true), node, interval, count, ct);
        using var call = c.Conn.Client.WatchStats(new WatchStatsRequest { IntervalSeconds = interval, Node = node ?? "" }, c.Conn.Options(ct, streaming: true));
        int shown = 0;
        try
        {
            await foreach (var stats in call.ResponseStream.ReadAllAsync(ct))
            {
                PrintJson(stats, line: true);
                if (count > 0 && ++shown >= count) break;
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && ct.IsCancellationRequested) { }
        return ExitCodes.Ok;
    }

    private static void PrintStats(Stats stats)
    {
        // One column per node (and the cluster): the figures are rows, so many nodes still fit a terminal.
        var columns = stats.Nodes.Select(n => (Name: n.Node, Counters: n.Counters, n.Error)).ToList();
        if (stats.Nodes.Count > 1) columns.Add(("cluster", stats.Cluster, ""));
        var table = new Table().AddColumn("");
        foreach (var col in columns) table.AddColumn(new TableColumn(Markup.Escape(col.Name)).RightAligned());
        string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        void Row(string label, Func<Counters, string> value) =>
            table.AddRow([label, .. columns.Select(col => col.Counters is null ? $"[red]{Markup.Escape(col.Error)}[/]" : Markup.Escape(value(col.Counters)))]);
        Row("requests", k => N(k.Requests));
        Row("  hit", k => N(k.Hit));
        Row("  miss", k => N(k.Miss));
        Row("  stale", k => N(k.Stale));
        Row("  revalidated", k => N(k.Revalidated));
        Row("  collapsed", k => N(k.Collapsed));
        Row("  pass", k => N(k.Pass));
        Row("  denied", k => N(k.Denied));
        Row("  error", k => N(k.Error));
        Row("hit ratio", k => k.HitRatio.ToString("P1", CultureInfo.InvariantCulture));
        Row("bytes to clients", k => Bytes(k.BytesToClients));
        Row("bytes from origins", k => Bytes(k.BytesFromOrigins));
        Row("origin fetches", k => N(k.OriginFetches));
        Row("origin latency avg", k => k.OriginFetches == 0 ? "-" : $"{k.OriginLatencySecondsSum / k.OriginFetches * 1000:0.0} ms");
        Row("store entries", k => N(k.StoreEntries));
        Row("store size", k => Bytes(k.StoreBytes));
        Row("evictions", k => N(k.Evictions));
        AnsiConsole.Write(table);
    }

    public static async Task<int> PurgeAsync((Connection Conn, Context Ctx) c, string kind, string value, CancellationToken ct)
    {
        var request = kind switch
        {
            "url" => new PurgeRequest { Url = value },
            "host" => new PurgeRequest { Host = value },
            "prefix" => new PurgeRequest { Prefix = value },
            _ => new PurgeRequest { SurrogateKey = value },
        };
        var reply = await c.Conn.Client.PurgeAsync(request, c.Conn.Options(ct));
        if (c.Ctx.Json) PrintJson(reply);
        else
        {
            AnsiConsole.MarkupLine($"purged [bold]{reply.Purged}[/] entr{(reply.Purged == 1 ? "y" : "ies")}");
            foreach (var n in reply.Nodes.Where(n => n.Error.Length > 0))
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(n.Node)}: {Markup.Escape(n.Error)}[/]");
        }
        return reply.Nodes.Any(n => n.Error.Length > 0) ? ExitCodes.Partial : ExitCodes.Ok;
    }

    public static async Task<int> InspectAsync((Connection Conn, Context Ctx) c, string url, bool headers, CancellationToken ct)
    {
        var reply = await c.Conn.Client.InspectAsync(new InspectRequest { Url = url }, c.Conn.Options(ct));
        if (c.Ctx.Json) { PrintJson(reply); return ExitCodes.Ok; }
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(reply.CacheKey)}[/]  owner {Markup.Escape(reply.Owner)}");
        var table = new Table().AddColumns("variant", "status", "size", "stored at", "age", "fresh for", "etag", "last-modified", "owner", "hits");
        foreach (var v in reply.Variants)
        {
            var nl = v.CacheKey.IndexOf('\n');
            table.AddRow(Markup.Escape(nl < 0 ? "(default)" : v.CacheKey[(nl + 1)..]), v.Status.ToString(CultureInfo.InvariantCulture), Bytes(v.BodyBytes),
                DateTimeOffset.FromUnixTimeMilliseconds(v.StoredAtUnixMs).ToString("u", CultureInfo.InvariantCulture), $"{v.AgeSeconds} s",
                v.FreshnessLeftSeconds >= 0 ? $"{v.FreshnessLeftSeconds} s" : $"[yellow]stale {-v.FreshnessLeftSeconds} s[/]",
                Markup.Escape(v.Etag), Markup.Escape(v.LastModified), Markup.Escape(v.Owner), v.Hits.ToString(CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        if (headers)
            foreach (var v in reply.Variants)
                foreach (var h in v.Headers) Console.Out.WriteLine($"{h.Name}: {h.Value}");
        return ExitCodes.Ok;
    }

    public static async Task<int> WarmAsync((Connection Conn, Context Ctx) c, string? file, int concurrency, CancellationToken ct)
    {
        if (concurrency is < 1 or > 64) throw new UsageException($"--concurrency must be from 1 to 64 (got {concurrency})");
        List<string> urls;
        try
        {
            IReadOnlyList<string> lines = file is null or "-" ? ReadAll(Console.In) : await File.ReadAllLinesAsync(file, ct);
            urls = [.. lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
        }
        catch (IOException ex) { throw new UsageException($"cannot read {file}: {ex.Message}"); }
        if (urls.Count == 0) throw new UsageException("no URLs to warm (give a file with one URL per line, or pipe them in)");

        using var call = c.Conn.Client.Warm(c.Conn.Options(ct, streaming: true));
        var send = Task.Run(async () =>
        {
            bool first = true;
            foreach (var url in urls)
            {
                await call.RequestStream.WriteAsync(new WarmRequest { Url = url, Concurrency = first ? concurrency : 0 }, ct);
                first = false;
            }
            await call.RequestStream.CompleteAsync();
        }, ct);
        int failed = 0, done = 0;
        long bytes = 0;
        async Task Receive(Action<WarmResult> each)
        {
            await foreach (var r in call.ResponseStream.ReadAllAsync(ct))
            {
                done++;
                bytes += r.Bytes;
                if (r.Error.Length > 0 || r.Status >= 400) failed++;
                each(r);
            }
        }
        if (c.Ctx.Json || Console.IsOutputRedirected)
        {
            await Receive(r =>
            {
                if (c.Ctx.Json) PrintJson(r, line: true);
                else Console.Out.WriteLine($"{(r.Error.Length > 0 ? "ERR" : r.Status.ToString(CultureInfo.InvariantCulture))} {r.Url} {r.Bytes} {(r.Error.Length > 0 ? r.Error : r.CacheStatus)}");
            });
        }
        else
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"warming {urls.Count} URL(s)", maxValue: urls.Count);
                    await Receive(r =>
                    {
                        task.Increment(1);
                        task.Description = $"warming: {done}/{urls.Count}, {failed} failed, {Bytes(bytes)}";
                        if (r.Error.Length > 0 || r.Status >= 400)
                            AnsiConsole.MarkupLine($"[red]{Markup.Escape(r.Url)}: {Markup.Escape(r.Error.Length > 0 ? r.Error : r.Status.ToString(CultureInfo.InvariantCulture))}[/]");
                    });
                });
            AnsiConsole.MarkupLine($"warmed {done - failed} of {urls.Count} URL(s), {Bytes(bytes)}{(failed > 0 ? $", [red]{failed} failed[/]" : "")}");
        }
        await send;
        return failed > 0 ? ExitCodes.Partial : ExitCodes.Ok;
    }

    public static async Task<int> DrainAsync((Connection Conn, Context Ctx) c, string? node, CancellationToken ct)
    {
        var reply = await c.Conn.Client.DrainAsync(new DrainRequest { Node = node ?? "" }, c.Conn.Options(ct));
        if (c.Ctx.Json) PrintJson(reply); else AnsiConsole.WriteLine(reply.Message);
        return ExitCodes.Ok;
    }

    public static async Task<int> PolicyGetAsync((Connection Conn, Context Ctx) c, CancellationToken ct)
    {
        var policy = await c.Conn.Client.GetPolicyAsync(new GetPolicyRequest(), c.Conn.Options(ct));
        if (c.Ctx.Json) { PrintJson(policy); return ExitCodes.Ok; }
        PrintPolicy(policy);
        return ExitCodes.Ok;
    }

    private static void PrintPolicy(Policy policy)
    {
        Console.Out.WriteLine($"# policy version {policy.Version}");
        Console.Out.WriteLine("[refresh_rules]");
        foreach (var r in policy.RefreshRules) Console.Out.WriteLine(r);
        Console.Out.WriteLine("[access_rules]");
        foreach (var r in policy.AccessRules) Console.Out.WriteLine(r);
    }

    public static async Task<int> PolicySetAsync((Connection Conn, Context Ctx) c, string[] refreshRules, string? refreshFile, bool clearRefresh,
        string[] accessRules, string? accessFile, CancellationToken ct)
    {
        var request = new SetPolicyRequest { Policy = new Policy() };
        var refresh = refreshRules.Concat(refreshFile is null ? [] : RuleLines(refreshFile, "--refresh-rules-file")).ToList();
        var access = accessRules.Concat(accessFile is null ? [] : RuleLines(accessFile, "--access-rules-file")).ToList();
        if (refresh.Count > 0 || clearRefresh) { request.Sections.Add("refresh_rules"); request.Policy.RefreshRules.AddRange(refresh); }
        if (access.Count > 0) { request.Sections.Add("access_rules"); request.Policy.AccessRules.AddRange(access); }
        if (request.Sections.Count == 0)
            throw new UsageException("nothing to set: give --refresh-rule / --refresh-rules-file / --clear-refresh-rules or --access-rule / --access-rules-file");
        var reply = await c.Conn.Client.SetPolicyAsync(request, c.Conn.Options(ct));
        if (c.Ctx.Json) { PrintJson(reply); return ExitCodes.Ok; }
        AnsiConsole.MarkupLine($"applied on {reply.Nodes.Count} node(s): {Markup.Escape(string.Join(", ", reply.Nodes))}");
        PrintPolicy(reply.Policy);
        return ExitCodes.Ok;
    }

    private static IEnumerable<string> RuleLines(string file, string option)
    {
        try { return [.. File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))]; }
        catch (IOException ex) { throw new UsageException($"{option}: cannot read {file}: {ex.Message}"); }
    }

    private static List<string> ReadAll(TextReader reader)
    {
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line);
        return lines;
    }

    private static string Uptime(long seconds)
    {
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h" : t.TotalHours >= 1 ? $"{t.Hours}h {t.Minutes}m" : $"{t.Minutes}m {t.Seconds}s";
    }

    public static string Bytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{n / 1024.0:0.0} KiB",
        _ => $"{n} B",
    };
}
