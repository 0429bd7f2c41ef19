using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace CacheCluster.Node.FrontEnd.Tls;

/// <summary>
/// A CONNECT tunnel over one HTTP/2 stream (RFC 9113 8.5): the other streams of the connection go on, so the raw
/// connection is never taken over. The 200 goes out as HEADERS without END_STREAM; then the request body's DATA
/// frames are the client's bytes and the response body's DATA frames the origin's.
/// </summary>
public static class Http2Tunnel
{
    public static async Task RunAsync(HttpContext ctx, Socket socket)
    {
        // An idle tunnel is normal (a websocket, a long poll): Kestrel's minimum data rates would cut it.
        if (ctx.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } inRate) inRate.MinDataRate = null;
        if (ctx.Features.Get<IHttpMinResponseDataRateFeature>() is { } outRate) outRate.MinDataRate = null;
        ctx.Response.StatusCode = StatusCodes.Status200OK;
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);

        await using var upstream = new NetworkStream(socket, ownsSocket: false);
        var toOrigin = ToOriginAsync(ctx.Request.Body, upstream, socket, ctx.RequestAborted);
        var toClient = ToClientAsync(upstream, ctx.Response.Body, ctx.RequestAborted);
        if (await Task.WhenAny(toOrigin, toClient) == toClient)
        {
            // The origin closed: the stream ends (END_STREAM) when this request returns; the client's side is not
            // read any further.
            return;
        }
        // The client ended its half (END_STREAM): the origin has seen end of input; wait for the rest of its answer.
        await toClient;
    }

    private static async Task ToOriginAsync(Stream client, NetworkStream upstream, Socket socket, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await client.ReadAsync(buffer, ct)) > 0) await upstream.WriteAsync(buffer.AsMemory(0, n), ct);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException or BadHttpRequestException) { }
        try { socket.Shutdown(SocketShutdown.Send); } catch (SocketException) { } catch (ObjectDisposedException) { }
    }

    private static async Task ToClientAsync(NetworkStream upstream, Stream client, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await upstream.ReadAsync(buffer, ct)) > 0)
            {
                await client.WriteAsync(buffer.AsMemory(0, n), ct);
                await client.FlushAsync(ct);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException) { }
    }
}
