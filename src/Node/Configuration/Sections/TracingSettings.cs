namespace CacheCluster.Node.Configuration;

/// <summary>How spans reach the collector: OTLP over gRPC (port 4317 by convention) or HTTP/protobuf (4318).</summary>
public enum OtlpProtocol { Grpc, Http }

/// <summary>
/// Tracing:* — OpenTelemetry traces, opt-in: off (and costing nothing) unless Tracing:OtlpEndpoint is set.
/// </summary>
public sealed class TracingSettings
{
    internal static readonly string[] Keys = ["OtlpEndpoint", "Protocol", "SampleRatio", "ServiceName", "PropagateToOrigins"];

    public static readonly TracingSettings Off = new();

    /// <summary>The OTLP collector (http://collector:4317); null: tracing off.</summary>
    public Uri? OtlpEndpoint { get; init; }
    public OtlpProtocol Protocol { get; init; } = OtlpProtocol.Grpc;
    /// <summary>Share of new traces recorded (a request that arrives with a sampled trace context is always recorded).</summary>
    public double SampleRatio { get; init; } = 1.0;
    public string ServiceName { get; init; } = "cachecluster";
    /// <summary>Send our trace context (traceparent) to origins and parents; off by default: an origin learns nothing of our traces.</summary>
    public bool PropagateToOrigins { get; init; }

    public bool Enabled => OtlpEndpoint is not null;

    internal static TracingSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Tracing", Keys);
        Uri? endpoint = null;
        if (r.Config["Tracing:OtlpEndpoint"] is { } raw && !string.IsNullOrWhiteSpace(raw))
        {
            if (Uri.TryCreate(raw.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
                endpoint = uri;
            else r.Error("Tracing:OtlpEndpoint", $"'{raw}' is not an http(s) URL of an OTLP collector (examples: http://otel-collector:4317, http://127.0.0.1:4318 with Tracing:Protocol=http)");
        }
        var settings = new TracingSettings
        {
            OtlpEndpoint = endpoint,
            Protocol = r.Enum("Tracing:Protocol", OtlpProtocol.Grpc),
            SampleRatio = r.Fraction("Tracing:SampleRatio", 1.0),
            ServiceName = r.String("Tracing:ServiceName", "cachecluster"),
            PropagateToOrigins = r.Bool("Tracing:PropagateToOrigins", false),
        };
        // A tracing key without an endpoint does nothing: say so rather than let the operator wonder where the traces are.
        if (endpoint is null && r.Config["Tracing:OtlpEndpoint"] is null)
            foreach (var key in Keys.Skip(1))
                if (r.Config["Tracing:" + key] is not null)
                    r.Error("Tracing:" + key, "has no effect without Tracing:OtlpEndpoint (tracing is off)");
        return settings;
    }
}
