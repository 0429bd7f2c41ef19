using System.Diagnostics;
using CacheCluster.Node.Configuration;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// Opt-in OpenTelemetry traces (Tracing:*): a span per proxy request, per owner-grain lookup and per origin fetch,
/// exported over OTLP; Orleans carries the trace context across nodes. Off (the default), nothing registers a
/// listener on <see cref="Source"/>, so <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns
/// null without creating anything and the request path checks <see cref="On"/> (one field read) first.
/// </summary>
public static class NodeTracing
{
    public const string SourceName = "CacheCluster.Node";

    public static readonly ActivitySource Source = new(SourceName, ManagementNodeGrain.Version);

    /// <summary>Somebody records our spans (tracing is on in this process).</summary>
    public static bool On => Source.HasListeners();

    /// <summary>Registers the tracer provider and its OTLP exporter; does nothing with tracing off.</summary>
    public static void Add(IServiceCollection services, NodeSettings settings)
    {
        var t = settings.Tracing;
        if (!t.Enabled) return;
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(t.ServiceName, serviceVersion: ManagementNodeGrain.Version, serviceInstanceId: settings.NodeName))
            .WithTracing(b => b
                .AddSource(SourceName)
                // Orleans' grain-call spans (with ISiloBuilder.AddActivityPropagation): the owner's side of a lookup on another node.
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                .SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(t.SampleRatio)))
                .AddOtlpExporter(o =>
                {
                    o.Protocol = t.Protocol == OtlpProtocol.Http ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                    // Set in code, the HTTP endpoint is used as given: add the standard path when only the collector's address is.
                    o.Endpoint = t.Protocol == OtlpProtocol.Http && t.OtlpEndpoint!.AbsolutePath == "/" ? new Uri(t.OtlpEndpoint, "/v1/traces") : t.OtlpEndpoint!;
                }));
    }
}
