using System.Net;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>The address of Kestrel's internal endpoint for bumped tunnels: no port, nothing outside can connect to it.</summary>
public sealed class BumpEndPoint : EndPoint
{
    /// <summary>How the endpoint appears in Kestrel's address list ("https://bumped-tunnels.invalid").</summary>
    public const string Name = "bumped-tunnels.invalid";

    public override string ToString() => Name;
}

/// <summary>
/// A Kestrel transport with no socket: a bumped CONNECT tunnel is handed to it as a connection, and Kestrel does the
/// rest as for any HTTPS connection (TLS with the minted certificate, HTTP/1.1 parsing, the node's whole request
/// pipeline). Bound only to <see cref="BumpEndPoint"/>; every other endpoint stays with the socket transport.
/// </summary>
public sealed class BumpListener : IConnectionListenerFactory, IConnectionListenerFactorySelector, IConnectionListener
{
    private readonly Channel<ConnectionContext> _accepted = Channel.CreateBounded<ConnectionContext>(
        new BoundedChannelOptions(1024) { SingleReader = false, SingleWriter = false });
    private volatile bool _bound;

    public EndPoint EndPoint { get; } = new BumpEndPoint();

    /// <summary>True once Kestrel listens on the endpoint (interception on and the server started).</summary>
    public bool Bound => _bound;

    public bool CanBind(EndPoint endpoint) => endpoint is BumpEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        _bound = true;
        return ValueTask.FromResult<IConnectionListener>(this);
    }

    /// <summary>Hands a tunnel to Kestrel; false when the server is stopping.</summary>
    public ValueTask<bool> OfferAsync(ConnectionContext connection, CancellationToken ct) =>
        _bound ? WriteAsync(connection, ct) : ValueTask.FromResult(false);

    private async ValueTask<bool> WriteAsync(ConnectionContext connection, CancellationToken ct)
    {
        try { await _accepted.Writer.WriteAsync(connection, ct); return true; }
        catch (ChannelClosedException) { return false; }
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try { return await _accepted.Reader.ReadAsync(cancellationToken); }
        catch (ChannelClosedException) { return null; } // unbound: Kestrel's accept loop ends
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _bound = false;
        _accepted.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => UnbindAsync();
}
