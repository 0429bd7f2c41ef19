using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// CONNECT tunnels (RFC 9110 9.3.6). Kestrel parses CONNECT as an ordinary bodiless request, so once we
/// accept it we take over the raw connection: write the 200 ourselves, then copy bytes both ways until
/// either side closes. Works for a CONNECT on a fresh connection and after keep-alive requests alike.
/// </summary>
public sealed class ConnectTunnel(NodeSettings settings, CacheCluster.Node.Policy.Guard.DestinationGuard guard, Intercept.TlsInterceptor interceptor,
    ILogger<ConnectTunnel> logger)
{
    /// <summary>Key under which the connection middleware leaves the raw connection for the request pipeline.</summary>
    public const string ConnectionItemKey = "cachecluster.connection";

    private static readonly byte[] Established = "HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray();

    /// <summary>Connection middleware: remembers the raw connection so a CONNECT request can take it over.</summary>
    public static Func<ConnectionDelegate, ConnectionDelegate> Remember => next => connection =>
    {
        connection.Items[ConnectionItemKey] = connection;
        return next(connection);
    };

    public async Task HandleAsync(HttpContext ctx)
    {
        var raw = ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "";
        if (ctx.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } extended)
        {
            await ProxyErrors.WriteAsync(ctx, StatusCodes.Status400BadRequest,
                $"extended CONNECT (:protocol {extended.Protocol}) is not proxied: use a plain CONNECT host:port tunnel", Status("bad-request"));
            return;
        }
        if (!TryParseAuthority(raw, out var host, out var port))
        {
            await ProxyErrors.WriteAsync(ctx, StatusCodes.Status400BadRequest, $"CONNECT needs host:port, got '{raw}'", Status("bad-request"));
            return;
        }
        if (!settings.Proxy.ConnectPorts.Contains(port))
        {
            await ProxyErrors.WriteAsync(ctx, StatusCodes.Status403Forbidden,
                $"CONNECT to port {port} is not allowed (allowed: {string.Join(", ", settings.Proxy.ConnectPorts.Order())})", Status("connect-port"),
                refused: RejectionReason.ConnectPort);
            return;
        }
        // HTTP/2 (HTTPS proxy listener): the tunnel is one stream of a shared connection (FrontEnd/Tls/Http2Tunnel.cs).
        bool http2 = HttpProtocol.IsHttp2(ctx.Request.Protocol);
        ConnectionContext? connection = null;
        if (!http2 && (ctx.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ConnectionItemKey, out var item) != true
            || (connection = item as ConnectionContext) is null))
        {
            await ProxyErrors.WriteAsync(ctx, StatusCodes.Status501NotImplemented, "CONNECT is not available on this listener", Status("connect-unavailable"));
            return;
        }

        Socket socket;
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        connectTimeout.CancelAfter(settings.Proxy.ConnectTimeout);
        try
        {
            // The SSRF guard resolves the name and refuses forbidden addresses (403 below).
            socket = await guard.ConnectAsync(host, port, connectTimeout.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or CacheCluster.Node.Policy.Guard.DestinationRefusedException)
        {
            if (ctx.RequestAborted.IsCancellationRequested) return;
            var target = new Uri($"https://{(host.Contains(':') ? $"[{host}]" : host)}:{port}/");
            var (status, message) = OriginClient.Describe(ex, target, timedOut: ex is OperationCanceledException);
            await ProxyErrors.WriteAsync(ctx, status, message, Status(status == 504 ? "origin-timeout" : status == 403 ? "destination-refused" : "origin-unreachable"),
                refused: status == 403 ? RejectionReason.Guard : null);
            return;
        }

        logger.LogDebug("CONNECT {Host}:{Port} established", host, port);
        // For the access log: TCP_TUNNEL/200 … HIER_DIRECT/<server ip>, however the tunnel ends.
        if (ctx.Features.Get<CacheCluster.Node.Management.Observability.ProxyRequestInfo>() is { } info)
        {
            (info.TunnelEstablished, info.ClosedByProxy, info.Hop) = (true, true, CacheCluster.Node.Management.Observability.UpstreamHop.Direct);
            info.Peer = socket.RemoteEndPoint is System.Net.IPEndPoint ep ? CacheCluster.Node.Management.Observability.PeerAddresses.Normalise(ep.Address) : null;
        }
        if (http2)
        {
            using (socket) await CacheCluster.Node.FrontEnd.Tls.Http2Tunnel.RunAsync(ctx, socket);
            return;
        }
        using (socket)
        {
            await using var upstream = new NetworkStream(socket, ownsSocket: false);
            var transport = connection!.Transport;
            await transport.Output.WriteAsync(Established);
            // Intercept:*: peek at the ClientHello; a host to bump leaves this tunnel for the internal TLS endpoint.
            var peeked = Intercept.PeekedReader.AsIs(transport.Input);
            string? name = null;
            if (interceptor.MayBump(host))
            {
                // The peeked bytes are read again by whoever takes the tunnel (origin or our TLS server).
                (name, peeked) = await interceptor.DecideAsync(transport.Input, host, ctx.RequestAborted);
            }
            var input = peeked.Reader;
            if (name is not null)
            {
                socket.Dispose(); // the decrypted requests reach the origin through the origin client, over TLS of their own
                var user = ctx.Features.Get<CacheCluster.Node.Policy.IProxyUserFeature>()?.User;
                await interceptor.ServeAsync(connection, peeked, new Intercept.BumpTarget(name, port, user), ctx.Features.Get<ProxyRequestInfo>(), ctx.RequestAborted);
                ctx.Abort();
                return;
            }

            var toOrigin = PumpToOriginAsync(input, upstream, socket);
            var toClient = PumpToClientAsync(upstream, transport.Output);
            if (await Task.WhenAny(toOrigin, toClient) == toClient)
            {
                // The origin closed: give the client a moment to close its side, then stop reading from it.
                if (await Task.WhenAny(toOrigin, Task.Delay(TimeSpan.FromSeconds(10))) != toOrigin)
                    input.CancelPendingRead();
            }
            await Task.WhenAll(toOrigin, toClient);
        }
        // Kestrel must not write a response of its own on this connection.
        ctx.Abort();
    }

    private static async Task PumpToOriginAsync(PipeReader client, NetworkStream upstream, Socket socket)
    {
        try
        {
            while (true)
            {
                var result = await client.ReadAsync();
                var buffer = result.Buffer;
                foreach (var segment in buffer) await upstream.WriteAsync(segment);
                client.AdvanceTo(buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or ConnectionResetException or OperationCanceledException) { }
        // Client finished sending: half-close towards the origin so it sees end of input.
        try { socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { } catch (ObjectDisposedException) { }
    }

    private static async Task PumpToClientAsync(NetworkStream upstream, PipeWriter client)
    {
        try
        {
            while (true)
            {
                var memory = client.GetMemory(16 * 1024);
                int n = await upstream.ReadAsync(memory);
                if (n == 0) break;
                client.Advance(n);
                var flush = await client.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled) break;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException) { }
        // Origin finished: everything it sent is flushed before the client connection closes.
        await client.CompleteAsync();
    }

    private string Status(string detail) => CacheCluster.Caching.CacheStatus.Local(settings.Proxy.CacheName, detail);

    internal static bool TryParseAuthority(string raw, out string host, out int port)
    {
        host = "";
        port = 0;
        int colon = raw.LastIndexOf(':');
        if (colon <= 0 || colon == raw.Length - 1) return false;
        if (!int.TryParse(raw.AsSpan(colon + 1), System.Globalization.NumberStyles.None, null, out port) || port is < 1 or > 65535) return false;
        host = raw[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host.Length == 0 || Uri.CheckHostName(host) == UriHostNameType.Unknown) return false;
        return true;
    }
}
