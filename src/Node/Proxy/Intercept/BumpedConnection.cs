using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>What a bumped connection stands for: the tunnel's destination and who opened it.</summary>
/// <param name="Host">The name the client asked for (SNI, else the CONNECT host), lower-case; an IP address when it gave no name.</param>
/// <param name="Port">The CONNECT port.</param>
/// <param name="User">The proxy user who authenticated the CONNECT (its requests inherit it, as in Squid).</param>
public sealed record BumpTarget(string Host, int Port, string? User)
{
    /// <summary>Key in the connection's items.</summary>
    public const string ItemKey = "cachecluster.bump";

    /// <summary>The authority the requests' URLs are built on (default port dropped, IPv6 in brackets).</summary>
    public string Authority => (Host.Contains(':') ? $"[{Host}]" : Host) + (Port == 443 ? "" : $":{Port}");

    public static BumpTarget? Of(HttpContext ctx) =>
        ctx.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ItemKey, out var v) == true ? v as BumpTarget : null;
}

/// <summary>
/// The client's side of a CONNECT tunnel after the 200, handed to Kestrel's internal endpoint as a connection of
/// its own: the same byte pipes (the peeked ClientHello read again first), the client's addresses, the bump target in
/// its items. Kestrel disposes it when it is done; <see cref="Finished"/> then completes.
/// </summary>
public sealed class BumpedConnection : ConnectionContext, IConnectionIdFeature, IConnectionItemsFeature, IConnectionTransportFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature
{
    private static long _next;
    private readonly ConnectionContext _outer;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BumpedConnection(ConnectionContext outer, PipeReader input, BumpTarget target)
    {
        _outer = outer;
        ConnectionId = $"{outer.ConnectionId}:bump{Interlocked.Increment(ref _next)}";
        Transport = new Pipes(input, outer.Transport.Output);
        RemoteEndPoint = outer.RemoteEndPoint;
        LocalEndPoint = outer.LocalEndPoint;
        Items[BumpTarget.ItemKey] = target;
        ConnectionClosed = _closed.Token;
        Features.Set<IConnectionIdFeature>(this);
        Features.Set<IConnectionItemsFeature>(this);
        Features.Set<IConnectionTransportFeature>(this);
        Features.Set<IConnectionLifetimeFeature>(this);
        Features.Set<IConnectionEndPointFeature>(this);
        // Kestrel's own buffer pool, as on the real connection (its response writers assume the pool's block size).
        if (outer.Features.Get<IMemoryPoolFeature>() is { } pool) Features.Set(pool);
    }

    public override string ConnectionId { get; set; }
    public override IFeatureCollection Features { get; } = new FeatureCollection();
    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    public override IDuplexPipe Transport { get; set; }
    public override EndPoint? RemoteEndPoint { get; set; }
    public override EndPoint? LocalEndPoint { get; set; }
    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>Completes when Kestrel has finished with the connection.</summary>
    public Task Finished => _finished.Task;

    public override void Abort(ConnectionAbortedException abortReason)
    {
        // Kestrel gives up on the connection (a timeout, shutdown): the client's real connection goes with it.
        _closed.Cancel();
        _outer.Abort(abortReason);
    }

    private sealed record Pipes(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    public override ValueTask DisposeAsync()
    {
        _finished.TrySetResult();
        return ValueTask.CompletedTask;
    }
}
