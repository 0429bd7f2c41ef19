using System.Net;
using System.Text;
using CacheCluster.Caching;
using CacheCluster.Grains.Protocol.Fills;
using CacheCluster.Grains.Protocol.HotCopies;
using CacheCluster.Grains.Protocol.Lookups;
using CacheCluster.Grains.Protocol.Owners;
using CacheCluster.Grains.Storage;
using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.ClusterClient.Membership;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.FrontEnd.Limits;
using CacheCluster.Node.FrontEnd.Pac;
using CacheCluster.Node.FrontEnd.Tls;
using CacheCluster.Node.Management;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Proxy.Intercept;
using CacheCluster.Node.Proxy.Responses;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Orleans.Configuration;
using Orleans.Runtime;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// Builds a node: an Orleans silo (grains + the FASTER entry store) and, in the same process, the Kestrel
/// proxy front end that asks those grains. Tests build nodes the same way the executable does.
/// </summary>
public static class NodeHost
{
    private const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    public static WebApplication Build(string[] args, Action<IConfigurationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        ConfigFile.Add(builder.Configuration, args); // --config FILE
        configure?.Invoke(builder.Configuration);
        var settings = NodeSettings.Load(builder.Configuration, Directory.GetCurrentDirectory());
        // Proxy:InlineIo (ProxySettings says why). .NET reads this once, when the process first waits on a socket, so it
        // must be set before anything listens or connects; a process that already did (a test host) keeps its mode.
        if (settings.Proxy.InlineIo && Environment.GetEnvironmentVariable(InlineCompletions) is null)
            Environment.SetEnvironmentVariable(InlineCompletions, "1");
        ListenerPreflight.Check(settings);

        builder.Services.AddSingleton(settings);
        LendingMemoryPool.Install(builder.Services); // stored chunks are sent from themselves, not copied (Proxy/Responses)
        builder.Services.AddRequestPath(); // the proxy's steps (src/Node/Proxy)
        InterceptServices.Add(builder.Services, settings); // TLS interception, opt-in (src/Node/Proxy/Intercept)
        builder.Services.AddSingleton<PacEndpoint>();
        builder.Services.AddSingleton<EntryOwners>();
        HttpsProxyListener.AddServices(builder.Services); // Proxy:HttpsListen (FrontEnd/Tls)
        PolicyServices.Add(builder.Services, settings);
        var management = ManagementHost.AddServices(builder, settings); // gRPC API, metrics, access log
        NodeTracing.Add(builder.Services, settings); // Tracing:OtlpEndpoint: OpenTelemetry traces, else nothing at all
        // ASP.NET creates an Activity and a log scope per request whenever this category can log (a filter names a
        // category from its start); a proxy has no use for either, and they would be a quarter of a hit's allocations.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // Orleans retries placement through Polly and logs every retry as a warning with a stack trace; while a node
        // joins or leaves these are expected (a call to a node that is not active yet) and say nothing to an operator.
        // A call that still fails after its retries is reported by the caller.
        builder.Logging.AddFilter("Polly", LogLevel.Error);
        // Kestrel warns at every start that the management port's HTTP/2 needs TLS, but that port speaks h2c through
        // H2cDetection; what an operator must act on from Kestrel (application errors) is logged as Error.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        // Orleans' watchdog measures its first check from the machine's boot on some hosts ("not completed for
        // 03:38:34"); real starvation shows in the thread-pool metrics.
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error); // categories match from their start

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Header values may carry obs-text (RFC 9110 5.5): pass such bytes through as Latin-1, both ways.
            kestrel.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
            kestrel.ResponseHeaderEncodingSelector = _ => Encoding.Latin1;
            // A proxy must ignore Host when the request line carries an absolute URL (RFC 9112 3.2.2).
            kestrel.AllowHostHeaderOverride = true;
            kestrel.Limits.MaxRequestBodySize = null;
            // A 64 KiB body and its head fit without the flush waiting for the socket to drain (Kestrel's default is
            // 64 KiB): measured 5-10% less CPU per 64 KiB hit. Bounded per connection, so slow readers still push back.
            kestrel.Limits.MaxResponseBufferSize = 256 * 1024;
            ClientLimits.ApplyTo(kestrel, settings.Policy.Limits);
            var clientLimits = kestrel.ApplicationServices.GetRequiredService<ClientLimits>();
            foreach (var endpoint in settings.Proxy.Listen)
                kestrel.Listen(endpoint, listen => listen.Use(ConnectionBytes.Count).Use(clientLimits.ConnectionLimit).Use(ConnectTunnel.Remember));
            HttpsProxyListener.Listen(kestrel, settings); // TLS, then the same connection middleware
            InterceptServices.Listen(kestrel, settings); // Intercept:Enabled: the internal endpoint bumped tunnels are served on
            ManagementHost.Listen(kestrel, settings, management);
        });

        // Proxy:InlineIo also runs Kestrel's request processing on the socket thread that read the request, up to the
        // first wait (a hit from a hot copy entirely): no hand-off to the pool and back per request. Measured on one
        // node, hits vs ATS: 64 KiB 0.65x -> 0.91x, 1 MiB 0.66x -> 0.77x, 1 KiB 0.98x -> 1.06x (ProxySettings).
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = settings.Proxy.InlineIo);

        builder.UseOrleans(silo =>
        {
            if (settings.Tracing.Enabled) silo.AddActivityPropagation(); // the trace goes on into owner grains on other nodes
            if (settings.Cluster.Mode == ClusteringMode.AdoNet)
            {
                // Membership in PostgreSQL; creates the schema first unless Cluster:CreateSchema=false (src/Node/ClusterClient/Membership).
                AdoNetMembership.UseAdoNetMembership(silo, settings.Cluster, builder.Configuration);
            }
            else
            {
                var primary = settings.Cluster.PrimarySiloPort is int p && p != settings.Cluster.SiloPort
                    ? new IPEndPoint(IPAddress.Loopback, p) : null;
                silo.UseLocalhostClustering(settings.Cluster.SiloPort, ClusterPorts.GatewayPort(settings.Cluster), primary,
                    settings.Cluster.ServiceId, settings.Cluster.ClusterId);
                silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = IPAddress.Loopback);
            }
            ClusterPorts.Configure(silo, settings, silo.Services); // gateway only on request; mutual TLS with Cluster:Tls:*
            silo.Configure<SiloOptions>(o => o.SiloName = settings.NodeName);
            // Declared dead by the cluster: one line and exit 75 for the supervisor, not Orleans' abort with a stack dump.
            silo.Services.AddSingleton<IFatalErrorHandler, DeclaredDeadExit>();
            // Explicit call timeout: a call to a node that just died must not hang for Orleans' default 30 s.
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = settings.Cluster.CallTimeout);
            // Orleans' directory cache preallocates for its size (1M entries by default: ~19 MB whatever the cache holds).
            // Sized from the disk budget instead, at ~8 KiB per entry: the entries this node can address at once.
            silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = DirectoryCacheSize(settings.Store.DiskBudgetBytes));
            silo.Services.AddSingleton(sp => new EntryStore(new StoreOptions
            {
                Directory = settings.Store.Directory,
                MemoryBudgetBytes = settings.Store.MemoryBudgetBytes,
                DiskBudgetBytes = settings.Store.DiskBudgetBytes,
                CheckpointInterval = settings.Store.CheckpointInterval,
                CheckpointTimeout = settings.Store.CheckpointTimeout,
            }, sp.GetRequiredService<ILogger<EntryStore>>()));
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, StoreLifecycle>();
            // Cache entries live on their key's rendezvous-hash owner; per-node grains on their node.
            silo.Services.AddSingleton<OwnerRanking>();
            // Heads the owner grains here vouch for: local lookups without a call (one slot per 16 KiB of disk budget).
            silo.Services.AddSingleton(sp => new PublishedHeads(sp.GetRequiredService<EntryStore>(), sp.GetRequiredService<OwnerRanking>(),
                sp.GetRequiredService<ILocalSiloDetails>(), PublishedHeadsLimit(settings.Store.DiskBudgetBytes)));
            silo.Services.AddSingleton(new HotEntries(settings.Cache.HotCacheBytes, settings.Cache.HotObjectMaxBytes));
            // Fills carry their leader's node, so a fill whose node dies ends at once (Protocol/Fills/FillLeaderTag.cs).
            silo.AddOutgoingGrainCallFilter<FillLeaderTag>();
            silo.Services.AddPlacementDirector<OwnerPlacement, OwnerPlacementDirector>();
            silo.Services.AddPlacementDirector<NodeBoundPlacement, NodeBoundPlacementDirector>();
        });

        var app = builder.Build();
        ClusterPorts.AttachLog(app.Services);
        var handler = app.Services.GetRequiredService<ProxyHandler>();
        app.Use(HttpsProxyListener.Http2ForwardTargets); // HTTP/2 forward requests get their absolute-form target
        ManagementHost.Map(app); // management port branch + stats middleware
        app.Use(BumpedRequests.Middleware(settings)); // requests out of a bumped tunnel become https:// URLs before anything looks at them
        // /proxy.pac and /wpad.dat (origin-form requests only) are answered before policy and proxy: browsers
        // fetch them without proxy credentials, and they reveal nothing the access rules protect.
        var pac = app.Services.GetRequiredService<PacEndpoint>();
        app.Use((ctx, next) => pac.Matches(ctx) ? pac.ServeAsync(ctx) : next(ctx));
        PolicyServices.Use(app); // check policy: loop, strict parsing, limits, auth, access rules
        app.Run(handler.HandleAsync);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CacheCluster.Node");
            log.LogInformation(
                "Node {Name} ready: proxy on {Proxy}; management on {Management}; store {Directory} ({Memory} memory, {Disk} disk, checkpoint every {Checkpoint}); {Mode} clustering; {Sites} reverse-proxy site(s)",
                settings.NodeName, string.Join(", ", ProxyAddresses(app)), string.Join(", ", management.Uris), settings.Store.Directory,
                ByteSize.Format(settings.Store.MemoryBudgetBytes), ByteSize.Format(settings.Store.DiskBudgetBytes),
                settings.Store.CheckpointInterval, settings.Cluster.Mode, settings.Proxy.Sites.Count);
            ClusterPorts.LogStartup(app.Services, settings);
            log.LogInformation("Objects up to {MaxObject} are cached (Cache:MaxObjectSize); refresh rules: {Configured} configured (Cache:RefreshRules){Package}",
                ByteSize.Format(settings.Cache.MaxObjectBytes), settings.Cache.RefreshRules.Count,
                settings.Cache.PackageRules
                    ? $", then {PackageRefreshRules.Lines.Count} package rules (Cache:PackageRules=false turns them off): {string.Join(" | ", PackageRefreshRules.Lines)}"
                    : "; package rules off (Cache:PackageRules=false)");
        });
        return app;
    }

    /// <summary>Orleans' directory cache: one slot per ~8 KiB of disk budget, between 16,384 and Orleans' own 1,000,000.</summary>
    internal static int PublishedHeadsLimit(long diskBudgetBytes) => (int)Math.Clamp(diskBudgetBytes / 16384, 16_384, 1_000_000);

    internal static int DirectoryCacheSize(long diskBudgetBytes) => (int)Math.Clamp(diskBudgetBytes / 8192, 16_384, 1_000_000);

    /// <summary>The proxy endpoints actually bound (port 0 in configuration becomes a real port).</summary>
    public static IReadOnlyList<Uri> ProxyAddresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a))
            .Where(u => u.Host != BumpEndPoint.Name && !app.Services.GetRequiredService<ManagementAddresses>().IsManagementPort(u.Port)).ToList() ?? [];

    /// <summary>The management endpoints actually bound (gRPC, /metrics, /healthz).</summary>
    public static IReadOnlyList<Uri> ManagementAddresses(WebApplication app) =>
        app.Services.GetRequiredService<ManagementAddresses>().Uris;
}
