using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.FrontEnd.Limits;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Proxy;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CacheCluster.Node.FrontEnd.Tls;

/// <summary>
/// The HTTPS proxy listener (Proxy:HttpsListen, Squid's https_port): TLS first, then the same connection
/// middleware and request pipeline as the plain proxy listener — forward requests, CONNECT, reverse-proxy sites,
/// admission, access rules, stats and the access log. HTTP/1.1 and (by ALPN) HTTP/2.
/// </summary>
public static class HttpsProxyListener
{
    /// <summary>Connection item set on HTTPS proxy connections.</summary>
    public const string ConnectionMarker = "cachecluster.https-proxy";

    public static void AddServices(IServiceCollection services)
    {
        services.AddSingleton<ProxyCertificateStore>();
        services.AddSingleton<HttpsProxyAddresses>();
    }

    public static void Listen(KestrelServerOptions kestrel, NodeSettings settings)
    {
        var https = settings.Proxy.Https;
        if (!https.Enabled) return;
        var services = kestrel.ApplicationServices;
        var certificates = services.GetRequiredService<ProxyCertificateStore>();
        var addresses = services.GetRequiredService<HttpsProxyAddresses>();
        var limits = services.GetRequiredService<ClientLimits>();
        // An HTTP/2 forward-proxy request names its target with ":scheme: http" on this TLS connection (RFC 9113
        // 8.3.1); Kestrel refuses a scheme that differs from the transport's unless told otherwise.
        kestrel.AllowAlternateSchemes = true;
        foreach (var endpoint in https.Listen)
        {
            kestrel.Listen(endpoint, listen =>
            {
                addresses.Add(listen);
                listen.Protocols = https.Http2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = certificates.OptionsFor,
                    HandshakeTimeout = TimeSpan.FromSeconds(10),
                });
                // After TLS, as on the plain listener: byte counting, per-client limits, CONNECT take-over.
                listen.Use(CountHttp1Bytes).Use(limits.ConnectionLimit).Use(Mark).Use(ConnectTunnel.Remember);
            });
        }
    }

    /// <summary>
    /// Request middleware: an HTTP/2 forward request (":scheme: http", ":authority: origin", ":path: /x") is given
    /// the absolute-form target an HTTP/1.1 client would have sent, so the rest of the pipeline sees one shape.
    /// ":scheme: https" requests stay origin-form: reverse-proxy sites and /proxy.pac, as over HTTP/1.1.
    /// </summary>
    public static Func<RequestDelegate, RequestDelegate> Http2ForwardTargets => next => ctx =>
    {
        if (ctx.Request.Protocol == HttpProtocol.Http2 && !HttpMethods.IsConnect(ctx.Request.Method)
            && string.Equals(ctx.Request.Scheme, "http", StringComparison.Ordinal)
            && ctx.Features.Get<IHttpRequestFeature>() is { } request && request.RawTarget.StartsWith('/')
            && ctx.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionMarker) == true)
        {
            request.RawTarget = "http://" + ctx.Request.Host.Value + request.RawTarget;
        }
        return next(ctx);
    };

    private static Func<ConnectionDelegate, ConnectionDelegate> Mark => next => connection =>
    {
        connection.Items[ConnectionMarker] = true;
        return next(connection);
    };

    /// <summary>
    /// Bytes sent per request are the connection's bytes before and after it: true for HTTP/1.1 only. HTTP/2 streams
    /// interleave on one connection, so there the access log counts the body by its Content-Length.
    /// </summary>
    private static Func<ConnectionDelegate, ConnectionDelegate> CountHttp1Bytes => next =>
    {
        var counted = ConnectionBytes.Count(next);
        return connection => connection.Features.Get<Microsoft.AspNetCore.Server.Kestrel.Core.Features.ITlsApplicationProtocolFeature>()?.ApplicationProtocol.Span.SequenceEqual("h2"u8) == true
            ? next(connection) : counted(connection);
    };
}

/// <summary>The HTTPS proxy endpoints as bound (port 0 in configuration becomes a real port once Kestrel binds).</summary>
public sealed class HttpsProxyAddresses
{
    private readonly List<ListenOptions> _listeners = [];

    internal void Add(ListenOptions listen) => _listeners.Add(listen);

    public IReadOnlyList<IPEndPoint> EndPoints => [.. _listeners.Select(l => l.IPEndPoint!).Where(e => e is not null)];

    public bool IsHttpsProxyPort(int port) => _listeners.Any(l => l.IPEndPoint?.Port == port);
}
