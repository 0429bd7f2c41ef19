using System.Collections.Concurrent;
using System.Diagnostics;
using CacheCluster.Management.Tests.Otlp;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Tests.Support;
using CacheCluster.TestOrigin;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace CacheCluster.Management.Tests;

/// <summary>
/// Tracing:* — spans of a request, its owner lookup and its origin fetch reach a real OTLP/HTTP receiver; off by
/// default with nothing created; our trace context reaches origins only with Tracing:PropagateToOrigins.
/// </summary>
public class TracingTests
{
    /// <summary>An OTLP/HTTP trace receiver on loopback (POST /v1/traces, protobuf), keeping every span it got.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        public readonly ConcurrentQueue<(Resource Resource, Span Span)> Spans = new();

        private OtlpReceiver(WebApplication app) => _app = app;

        public Uri Endpoint => new(_app.Urls.First());

        public static async Task<OtlpReceiver> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var receiver = new OtlpReceiver(app);
            app.MapPost("/v1/traces", async (HttpContext ctx) =>
            {
                using var body = new MemoryStream();
                await ctx.Request.Body.CopyToAsync(body);
                var request = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
                foreach (var rs in request.ResourceSpans)
                    foreach (var ss in rs.ScopeSpans)
                        foreach (var s in ss.Spans) receiver.Spans.Enqueue((rs.Resource, s));
                ctx.Response.ContentType = "application/x-protobuf";
                await ctx.Response.Body.WriteAsync(new ExportTraceServiceResponse().ToByteArray());
            });
            await app.StartAsync();
            return receiver;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }

    private static string? Attr(Span s, string key) => s.Attributes.FirstOrDefault(a => a.Key == key)?.Value is { } v
        ? v.ValueCase switch { AnyValue.ValueOneofCase.StringValue => v.StringValue, AnyValue.ValueOneofCase.IntValue => v.IntValue.ToString(), AnyValue.ValueOneofCase.BoolValue => v.BoolValue.ToString(), _ => null }
        : null;

    private static async Task<(OriginServer Origin, OtlpReceiver Receiver, LocalCluster Site, RecordedRequest Seen, List<(Resource Resource, Span Span)> Trace)>
        TraceOneMissAsync(bool propagate)
    {
        var origin = await OriginServer.StartAsync();
        var receiver = await OtlpReceiver.StartAsync();
        var site = await LocalCluster.StartAsync(1, new Dictionary<string, string?>
        {
            ["Tracing:OtlpEndpoint"] = receiver.Endpoint.ToString(),
            ["Tracing:Protocol"] = "http",
            ["Tracing:PropagateToOrigins"] = propagate ? "true" : "false",
        });
        var path = CacheCluster.Management.Tests.Support.ManagedCluster.Unique("/bytes/1k") + "&secret=s3cr3t";
        using (var client = site.Nodes[0].CreateClient())
        using (var r = await client.GetAsync(origin.Url(path)))
            await r.Content.ReadAsByteArrayAsync();
        var seen = origin.RequestsFor(path).Single();
        // Spans are exported in batches: flush, then wait (bounded) for the request's span to arrive.
        site.Nodes[0].Services.GetRequiredService<TracerProvider>().ForceFlush(10_000);
        var until = Stopwatch.StartNew();
        Span? root = null;
        while (until.Elapsed < TimeSpan.FromSeconds(15))
        {
            root = receiver.Spans.Select(s => s.Span).FirstOrDefault(s => s.Kind == 2 && Attr(s, "url.full")?.Contains(path[..path.IndexOf('?')]) == true);
            if (root is not null) break;
            await Task.Delay(100);
        }
        Assert.NotNull(root);
        await Task.Delay(200); // the request's other spans came in the same or an earlier batch
        var trace = receiver.Spans.Where(s => s.Span.TraceId == root.TraceId).ToList();
        return (origin, receiver, site, seen, trace);
    }

    [Fact]
    public async Task A_request_its_owner_lookup_and_origin_fetch_are_one_trace_and_the_origin_sees_no_trace_header()
    {
        var (origin, receiver, site, seen, trace) = await TraceOneMissAsync(propagate: false);
        await using var _o = origin;
        await using var _r = receiver;
        await using var _s = site;
        var root = trace.Single(s => s.Span.Name == "GET" && s.Span.Kind == 2).Span;
        Assert.Equal("miss", Attr(root, "cachecluster.outcome"));
        Assert.Equal("200", Attr(root, "http.response.status_code"));
        Assert.DoesNotContain("s3cr3t", Attr(root, "url.full")); // no query terms in traces
        Assert.True(root.ParentSpanId.IsEmpty);
        var lookup = trace.Single(s => s.Span.Name == "owner lookup").Span;
        Assert.Equal(root.SpanId, lookup.ParentSpanId);
        var fetch = trace.Single(s => s.Span.Name == "origin fetch").Span;
        Assert.Equal("200", Attr(fetch, "http.response.status_code"));
        Assert.DoesNotContain("s3cr3t", Attr(fetch, "url.full"));
        // The node is named in the resource.
        var resource = trace.First(s => s.Span.Name == "GET").Resource;
        Assert.Contains(resource.Attributes, a => a.Key == "service.name" && a.Value.StringValue == "cachecluster");
        Assert.Contains(resource.Attributes, a => a.Key == "service.instance.id" && a.Value.StringValue.Length > 0);
        Assert.False(seen.HasHeader("traceparent"), "our trace context reached the origin");
    }

    [Fact]
    public async Task With_PropagateToOrigins_the_origin_gets_the_requests_trace_context()
    {
        var (origin, receiver, site, seen, trace) = await TraceOneMissAsync(propagate: true);
        await using var _o = origin;
        await using var _r = receiver;
        await using var _s = site;
        var traceId = Convert.ToHexStringLower(trace[0].Span.TraceId.ToByteArray());
        Assert.Contains(traceId, seen.Header("traceparent"));
    }

    [Fact]
    public async Task Off_by_default_no_listener_and_no_activity_for_requests()
    {
        await using var origin = await OriginServer.StartAsync();
        await using var site = await LocalCluster.StartAsync(1);
        Assert.False(NodeTracing.Source.HasListeners());
        int created = 0;
        void Count(object? sender, ActivityChangedEventArgs e) { if (e.Current is not null) Interlocked.Increment(ref created); }
        Activity.CurrentChanged += Count;
        try
        {
            var url = origin.Url(CacheCluster.Management.Tests.Support.ManagedCluster.Unique("/bytes/1k"));
            using var client = site.Nodes[0].CreateClient();
            for (int i = 0; i < 3; i++) // a miss, then hits
                using (var r = await client.GetAsync(url)) await r.Content.ReadAsByteArrayAsync();
            Assert.False(origin.RequestsFor(url.PathAndQuery).Single().HasHeader("traceparent"));
        }
        finally { Activity.CurrentChanged -= Count; }
        Assert.Equal(0, created);
        Assert.Null(site.Nodes[0].Services.GetService<TracerProvider>());
    }

    [Theory]
    [InlineData("Tracing:OtlpEndpoint", "ftp://collector:4317", "Tracing:OtlpEndpoint")]
    [InlineData("Tracing:OtlpEndpoint", "collector", "Tracing:OtlpEndpoint")]
    [InlineData("Tracing:SampleRatio", "0.5", "Tracing:SampleRatio: has no effect without Tracing:OtlpEndpoint")]
    [InlineData("Tracing:PropagateToOrigins", "true", "Tracing:PropagateToOrigins: has no effect")]
    [InlineData("Tracing:Protocl", "http", "Tracing:Protocl")]
    public void Bad_tracing_settings_stop_the_start_naming_the_key(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var ex = Assert.Throws<NodeConfigurationException>(() => NodeSettings.Load(config, Path.GetTempPath()));
        Assert.Contains(ex.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Valid_tracing_settings_are_read()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Tracing:OtlpEndpoint"] = "http://127.0.0.1:4318", ["Tracing:Protocol"] = "http", ["Tracing:SampleRatio"] = "0.25",
        }).Build();
        var t = NodeSettings.Load(config, Path.GetTempPath()).Tracing;
        Assert.True(t.Enabled);
        Assert.Equal(OtlpProtocol.Http, t.Protocol);
        Assert.Equal(0.25, t.SampleRatio);
        Assert.False(t.PropagateToOrigins);
        Assert.False(NodeSettings.Load(new ConfigurationBuilder().Build(), Path.GetTempPath()).Tracing.Enabled);
    }
}
