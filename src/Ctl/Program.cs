using System.CommandLine;
using CacheCluster.Ctl;
using Grpc.Core;
using Spectre.Console;

// cachectl: the operators' command-line client for a CacheCluster's management API (docs/management.md).

// Piped into a file or another program: tables as wide as they need (COLUMNS if set), not cut at 80.
if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out var columns) && columns > 40 ? columns : 240;
var address = new Option<string?>("--address", "-a")
{
    Description = $"A node's management address (any node answers for the whole cluster). Env: CACHECTL_ADDRESS; default {Connection.DefaultAddress}",
    Recursive = true,
};
var token = new Option<string?>("--token", "-t") { Description = "Bearer token (Management:Token on the nodes). Env: CACHECTL_TOKEN", Recursive = true };
var json = new Option<bool>("--json") { Description = "Print JSON (one object per result; one per line for streams) instead of tables", Recursive = true };
var insecure = new Option<bool>("--insecure") { Description = "With https: do not verify the node's certificate", Recursive = true };
var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for an answer (not for streams)", DefaultValueFactory = _ => 60, Recursive = true };

var root = new RootCommand("cachectl: see and steer a CacheCluster through any node's management API");
foreach (var o in new Option[] { address, token, json, insecure, timeout }) root.Options.Add(o);

Commands.Context Ctx(ParseResult p) => new(
    p.GetValue(address) ?? Environment.GetEnvironmentVariable("CACHECTL_ADDRESS"),
    p.GetValue(token) ?? Environment.GetEnvironmentVariable("CACHECTL_TOKEN"),
    p.GetValue(json), p.GetValue(insecure), TimeSpan.FromSeconds(Math.Max(1, p.GetValue(timeout))));

// status
var status = new Command("status", "Every node: address, state, uptime, version, entries, bytes, hit ratio");
status.SetAction((p, ct) => Commands.Run(Ctx(p), ct, Commands.StatusAsync));
root.Subcommands.Add(status);

// stats
var statsNode = new Option<string?>("--node") { Description = "Only this node (by name)" };
var watch = new Option<bool>("--watch", "-w") { Description = "Keep printing updates until Ctrl+C" };
var interval = new Option<int>("--interval") { Description = "Seconds between updates with --watch", DefaultValueFactory = _ => 1 };
var count = new Option<int>("--count") { Description = "With --watch: stop after this many updates (0: until Ctrl+C)" };
var stats = new Command("stats", "Requests by outcome, bytes, origin latency and store figures, cluster-wide and per node; --watch: live per-second rates") { statsNode, watch, interval, count };
stats.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.StatsAsync(c, p.GetValue(statsNode), p.GetValue(watch), p.GetValue(interval), p.GetValue(count), t)));
root.Subcommands.Add(stats);

// top
var topHosts = new Option<bool>("--hosts") { Description = "Hosts instead of URLs" };
var topBytes = new Option<bool>("--bytes") { Description = "Order by bytes sent instead of requests" };
var topLimit = new Option<int>("--limit", "-n") { Description = "How many (1-1000)", DefaultValueFactory = _ => 20 };
var topWatch = new Option<bool>("--watch", "-w") { Description = "Redraw every --interval seconds until Ctrl+C" };
var topInterval = new Option<int>("--interval") { Description = "Seconds between updates with --watch", DefaultValueFactory = _ => 2 };
var topCount = new Option<int>("--count") { Description = "With --watch: stop after this many updates (0: until Ctrl+C)" };
var top = new Command("top", "The hottest URLs (or hosts) cluster-wide: requests, hit share and bytes in about the last two minutes")
    { topHosts, topBytes, topLimit, topWatch, topInterval, topCount };
top.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Top.RunAsync(c, p.GetValue(topHosts), p.GetValue(topBytes), p.GetValue(topLimit),
    p.GetValue(topWatch), p.GetValue(topInterval), p.GetValue(topCount), t)));
root.Subcommands.Add(top);

// log
var logOutcome = new Option<string[]>("--outcome") { Description = "Only these outcomes: hit, miss, stale, revalidated, collapsed, pass, denied, error (repeat, or comma-separate)" };
var logHost = new Option<string?>("--host") { Description = "Only URLs of this host (example.org: any port; example.org:8080: that port)" };
var logClient = new Option<string?>("--client") { Description = "Only this client: an IP address or a CIDR network (10.0.0.0/8)" };
var logNode = new Option<string?>("--node") { Description = "Only requests served by this node (by name)" };
var logCount = new Option<int>("--count", "-n") { Description = "Stop after this many lines (0: until Ctrl+C)" };
var log = new Command("log", "Stream the access log of every node live (Squid format; --json: one object per line), with filters")
    { logOutcome, logHost, logClient, logNode, logCount };
log.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => LogCommand.RunAsync(c, p.GetValue(logOutcome) ?? [], p.GetValue(logHost),
    p.GetValue(logClient), p.GetValue(logNode), p.GetValue(logCount), t)));
root.Subcommands.Add(log);

// purge
var purge = new Command("purge", "Remove entries cluster-wide (hot copies on every node too) and print how many went");
foreach (var (name, description, kind) in new[]
{
    ("url", "One URL, all its variants (http://example.org/page)", "url"),
    ("host", "Every URL of a host (example.org, or example.org:8080 for one port)", "host"),
    ("prefix", "Every URL that starts with a prefix (http://example.org/static/)", "prefix"),
    ("tag", "Every entry whose Surrogate-Key / Cache-Tag lists this key", "surrogate_key"),
})
{
    var value = new Argument<string>(name == "tag" ? "key" : name) { Description = description };
    var sub = new Command(name, description) { value };
    sub.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.PurgeAsync(c, kind, p.GetValue(value)!, t)));
    purge.Subcommands.Add(sub);
}
root.Subcommands.Add(purge);

// inspect
var inspectUrl = new Argument<string>("url") { Description = "The URL (http://example.org/page)" };
var showHeaders = new Option<bool>("--headers") { Description = "Also print the stored response headers" };
var inspect = new Command("inspect", "One URL: variants, size, stored at, age, freshness left, validators, owner node, hits") { inspectUrl, showHeaders };
inspect.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.InspectAsync(c, p.GetValue(inspectUrl)!, p.GetValue(showHeaders), t)));
root.Subcommands.Add(inspect);

// warm
var warmFile = new Argument<string?>("file") { Description = "File with one URL per line ('-' or none: standard input)", Arity = ArgumentArity.ZeroOrOne };
var concurrency = new Option<int>("--concurrency", "-c") { Description = "Fetches at a time (1-64)", DefaultValueFactory = _ => 8 };
var warm = new Command("warm", "Fetch URLs through the cluster's normal (single-flight) path so they are cached; live progress") { warmFile, concurrency };
warm.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.WarmAsync(c, p.GetValue(warmFile), p.GetValue(concurrency), t)));
root.Subcommands.Add(warm);

// drain
var drainNode = new Argument<string?>("node") { Description = "Node name (see status); none: the node you are connected to", Arity = ArgumentArity.ZeroOrOne };
var drain = new Command("drain", "Make a node leave the cluster gracefully (finish requests, checkpoint, stop)") { drainNode };
drain.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.DrainAsync(c, p.GetValue(drainNode), t)));
root.Subcommands.Add(drain);

// policy
var policy = new Command("policy", "Read or change the runtime policy (freshness rules, access rules) on every node, no restart");
var policyGet = new Command("get", "Print the policy in force");
policyGet.SetAction((p, ct) => Commands.Run(Ctx(p), ct, Commands.PolicyGetAsync));
var refreshRule = new Option<string[]>("--refresh-rule") { Description = "A freshness rule (Cache:RefreshRules syntax); repeat for several, in order", AllowMultipleArgumentsPerToken = false };
var refreshFile = new Option<string?>("--refresh-rules-file") { Description = "File with one freshness rule per line (# comments)" };
var accessRule = new Option<string[]>("--access-rule") { Description = "An access rule (access policy syntax); repeat for several, in order" };
var accessFile = new Option<string?>("--access-rules-file") { Description = "File with one access rule per line (# comments)" };
var clearRefresh = new Option<bool>("--clear-refresh-rules") { Description = "Remove every freshness rule" };
var policySet = new Command("set", "Replace the given sections of the policy on every node") { refreshRule, refreshFile, clearRefresh, accessRule, accessFile };
policySet.SetAction((p, ct) => Commands.Run(Ctx(p), ct, (c, t) => Commands.PolicySetAsync(c,
    p.GetValue(refreshRule) ?? [], p.GetValue(refreshFile), p.GetValue(clearRefresh), p.GetValue(accessRule) ?? [], p.GetValue(accessFile), t)));
policy.Subcommands.Add(policyGet);
policy.Subcommands.Add(policySet);
root.Subcommands.Add(policy);

// ca create (local: the interception CA, docs/interception.md)
var caOut = new Option<string>("--out") { Description = "Folder for ca.crt and ca.key", Required = true };
var caName = new Option<string>("--name") { Description = "The CA's common name (what users see in certificate details)", DefaultValueFactory = _ => "CacheCluster Interception CA" };
var caDays = new Option<int>("--days") { Description = "Validity in days (1-3650)", DefaultValueFactory = _ => 3650 };
var caForce = new Option<bool>("--force") { Description = "Replace existing files" };
var caCreate = new Command("create", "Create the operator's TLS interception CA (ECDSA P-256) as PEM files; no node is contacted") { caOut, caName, caDays, caForce };
caCreate.SetAction(p => CaCommand.Create(p.GetValue(caOut)!, p.GetValue(caName)!, p.GetValue(caDays), p.GetValue(caForce)));
var ca = new Command("ca", "The TLS interception CA (Intercept:CaCertificatePath / CaKeyPath)");
ca.Subcommands.Add(caCreate);
root.Subcommands.Add(ca);

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    foreach (var error in parsed.Errors) Console.Error.WriteLine($"cachectl: {error.Message}");
    Console.Error.WriteLine("Try 'cachectl --help'.");
    return ExitCodes.Usage;
}
return await parsed.InvokeAsync();
