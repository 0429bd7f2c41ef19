using System;
using System.Runtime.InteropServices;
using Prometheus;

namespace CacheCluster.Node.Management;

/// <summary>
/// The process's own series on a node's registry: prometheus-net's .NET stats (GC collections, memory, CPU,
/// threads, handles), the runtime's "System.Runtime" meter (GC heap and pauses, thread pool threads and
/// queue, exceptions, lock contention) and Kestrel's meter (connections open, their duration, rejected and
/// queued connections, TLS handshakes) through the meter adapter, and cachecluster_build_info.
/// Nodes sharing a process (tests) each see the whole process's runtime and Kestrel figures.
/// </summary>
public sealed class RuntimeMetrics : IDisposable
{
    private static readonly HashSet<string> Meters = ["System.Runtime", "Microsoft.AspNetCore.Server.Kestrel"];

    private readonly IDisposable _meters;

    public RuntimeMetrics(CollectorRegistry registry)
    {
        DotNetStats.Register(registry);
        _meters = MeterAdapter.StartListening(new MeterAdapterOptions
        {
            Registry = registry,
            MetricFactory = Metrics.WithCustomRegistry(registry), // its default is the global registry's factory
            InstrumentFilterPredicate = instrument => Meters.Contains(instrument.Meter.Name),
        });
        Metrics.WithCustomRegistry(registry)
            .CreateGauge("cachecluster_build_info", "Always 1; the node's build in its labels.", "version", "runtime")
            .WithLabels(ManagementNodeGrain.Version, RuntimeInformation.FrameworkDescription).Set(1);
    }

    public void Dispose() => _meters.Dispose();
}
