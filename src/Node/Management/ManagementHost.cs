using System.Security.Cryptography.X509Certificates;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Hosting;
using CacheCluster.Node.Management.AccessLog;
using CacheCluster.Node.Management.Dashboard;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy.Runtime;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CacheCluster.Node.Management;

/// <summary>
/// Wires the management plane into a node: its own listeners (Management:Listen; never the proxy port)
/// serving gRPC (CacheManagement, grpc.health.v1, reflection), the web dashboard (/ui/) and plain HTTP/1.1 GET /metrics,
/// /healthz/live and /healthz/ready; the stats middleware, origin meter, access log and runtime policy.
/// </summary>
public static class ManagementHost
{
    /// <summary>Connection item set on management connections: requests on them never reach the proxy.</summary>
    public const string ConnectionMarker = "cachecluster.management";

    public static ManagementAddresses AddServices(WebApplicationBuilder builder, NodeSettings settings)
    {
        var addresses = new ManagementAddresses { Tls = settings.Management.TlsCertificatePath is not null };
        var services = builder.Services;
        services.AddSingleton(addresses);
        services.AddSingleton<ProxyCounters>();
        services.AddSingleton<RequestFigures>();
        services.AddSingleton<RecentDenials>(); // the dashboard's recent denials
        services.AddSingleton<TopUrls>(_ => new TopUrls());
        services.AddSingleton<OriginMeter>();
        services.AddSingleton<AccessLogWriter>();
        services.AddSingleton<LiveAccessLog>(); // cachectl log
        services.AddSingleton<StatsMiddleware>();
        services.AddSingleton<RuntimePolicy>();
        services.AddSingleton<StoreCensus>();
        services.AddSingleton<GrainCensus>();
        services.AddSingleton<MetricsExporter>();
        services.AddSingleton<Readiness>();
        services.AddSingleton<ClusterNodes>();
        services.AddSingleton<ClusterPurge>(); // gRPC Purge and HTTP PURGE on the proxy port
        services.AddSingleton<WarmClient>();
        services.AddSingleton<BearerTokenInterceptor>();
        services.AddSingleton<DashboardFeed>();
        services.AddSingleton<KeySpaceShare>();
        services.AddHostedService<PolicySync>();
        services.AddSingleton<ConfigReload>(); // SIGHUP
        services.AddHostedService(sp => sp.GetRequiredService<ConfigReload>());
        services.AddGrpc(o =>
        {
            o.Interceptors.Add<BearerTokenInterceptor>();
            o.EnableDetailedErrors = false;
            // Every input is bounded: whole messages here, fields in InputLimits.
            o.MaxReceiveMessageSize = InputLimits.MaxMessageBytes;
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks().AddCheck<ReadinessCheck>("ready");
        services.AddRouting();
        return addresses;
    }

    public static void Listen(KestrelServerOptions kestrel, NodeSettings settings, ManagementAddresses addresses)
    {
        var m = settings.Management;
        X509Certificate2? certificate = m.TlsCertificatePath is { } cert && m.TlsKeyPath is { } key
            ? X509Certificate2.CreateFromPemFile(cert, key) : null;
        // h2c connections look like TLS to Kestrel (H2cDetection): accept their ":scheme: http" (HTTP/2+ only;
        // the proxy listeners speak HTTP/1.1).
        if (certificate is null) kestrel.AllowAlternateSchemes = true;
        foreach (var endpoint in m.Listen)
        {
            kestrel.Listen(endpoint, listen =>
            {
                addresses.Add(listen);
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.Use(next => connection =>
                {
                    connection.Items[ConnectionMarker] = true;
                    return next(connection);
                });
                // TLS negotiates h2 by ALPN; cleartext needs the preface peek (H2cDetection).
                if (certificate is not null) listen.UseHttps(certificate);
                else listen.Use(H2cDetection.Middleware);
            });
        }
    }

    private static bool IsManagement(HttpContext ctx) =>
        ctx.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true;

    /// <summary>Branches management connections to their own endpoints and puts the stats middleware in front of the proxy.</summary>
    public static void Map(WebApplication app)
    {
        app.MapWhen(IsManagement, branch =>
        {
            // Endpoints of their own: mapped on the application, routing would run on every proxy request too.
            branch.Properties.Remove("__GlobalEndpointRouteBuilder");
            branch.UseRouting();
            branch.UseEndpoints(e =>
            {
                e.MapGrpcService<ManagementService>();
                e.MapGrpcReflectionService();
                e.MapGrpcHealthChecksService();
                e.MapGet("/healthz/live", () => Results.Text("live\n"));
                e.MapGet("/healthz/ready", (Readiness readiness) => readiness.NotReadyReason() is { } reason
                    ? Results.Text($"not ready: {reason}\n", statusCode: StatusCodes.Status503ServiceUnavailable)
                    : Results.Text("ready\n"));
                DashboardEndpoints.Map(e); // /ui/: the web dashboard
                e.MapGet("/metrics", async (HttpContext ctx, MetricsExporter metrics) =>
                {
                    ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                    await metrics.WriteAsync(ctx.Response.Body, ctx.RequestAborted);
                });
            });
            branch.Run(ctx =>
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return ctx.Response.WriteAsync("not found: this is the management port (gRPC, /ui/, /metrics, /healthz/live, /healthz/ready)\n");
            });
        });
        app.Use(app.Services.GetRequiredService<StatsMiddleware>().Middleware);
        // Created now so the origin latency histogram is hooked up before the first request.
        app.Services.GetRequiredService<MetricsExporter>();
    }
}
