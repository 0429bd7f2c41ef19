using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy.Guard;
using CacheCluster.Node.Proxy.Upstream;
using Microsoft.AspNetCore.Http;

namespace CacheCluster.Node.Proxy;

/// <summary>
/// The one HTTP client the node uses to reach origins. Nothing is added behind the proxy's back: no
/// automatic redirects, decompression, cookies, system proxy or tracing headers (traceparent).
/// </summary>
public sealed class OriginClient : IDisposable
{
    private HttpMessageInvoker _invoker;
    // Clients on loopback may reach the host's loopback (Guard:AllowLoopback=LocalClients): their upstream
    // connections live in a pool of their own, so a connection opened for them is never reused for a LAN client.
    private HttpMessageInvoker _localInvoker;
    private readonly NodeSettings _settings;
    private readonly DestinationGuard _guard;
    private readonly OriginMeter _meter;
    private long _listenersVersion;
    private readonly Lock _renewing = new();
    // How long replaced pools live on for the requests still using them.
    private static readonly TimeSpan RetiredPoolGrace = TimeSpan.FromMinutes(5);
    private readonly ParentRouter? _parents;
    // Which server address each upstream connection reached, for the access log's peer field.
    private readonly PeerAddresses _peers = new();

    public OriginClient(NodeSettings settings, DestinationGuard guard, OriginMeter meter,
        ILoggerFactory loggers)
    {
        // Upstream:Parents: misses go through parent proxies (src/Node/Proxy/Upstream), this client is the direct path.
        if (settings.Upstream.Parents.Count > 0)
            _parents = new ParentRouter(settings, _peers, loggers.CreateLogger<ParentRouter>());
        (_settings, _guard, _meter) = (settings, guard, meter);
        _listenersVersion = guard.ListenersVersion;
        _invoker = NewInvoker(settings, guard, meter, _peers, clientIsLocal: false);
        _localInvoker = NewInvoker(settings, guard, meter, _peers, clientIsLocal: true);
    }

    /// <summary>The parent proxies (Upstream:Parents) and whether each is up; none without parents.</summary>
    public IEnumerable<(string Name, bool Up)> ParentHealth() => _parents?.Health() ?? [];

    /// <summary>New connection pools once the guard learnt of new listeners (rare: a node joined or bound its ports).</summary>
    private void RenewPoolsIfListenersChanged()
    {
        var version = _guard.ListenersVersion;
        if (version == Interlocked.Read(ref _listenersVersion)) return;
        lock (_renewing)
        {
            if (version == _listenersVersion) return;
            var (old, oldLocal) = (_invoker, _localInvoker);
            _invoker = NewInvoker(_settings, _guard, _meter, _peers, clientIsLocal: false);
            _localInvoker = NewInvoker(_settings, _guard, _meter, _peers, clientIsLocal: true);
            Interlocked.Exchange(ref _listenersVersion, version);
            _ = Task.Delay(RetiredPoolGrace).ContinueWith(_ => { old.Dispose(); oldLocal.Dispose(); }, TaskScheduler.Default);
        }
    }

    private static HttpMessageInvoker NewInvoker(NodeSettings settings, DestinationGuard guard,
        OriginMeter meter, PeerAddresses peers, bool clientIsLocal)
    {
        var handler = NewHandler(settings);
        handler.UseProxy = false;
        // Strict checks that name their reason in the 502 page; Intercept:OriginCaPath adds trust anchors.
        handler.SslOptions.RemoteCertificateValidationCallback = Intercept.OriginCertificates.Validator(settings.Intercept.OriginAuthorities);
        // The SSRF guard checks the addresses the origin's name resolves to, at every new connection; the
        // meter counts the bytes that come back.
        handler.ConnectCallback = async (context, ct) =>
            meter.Counted(new NetworkStream(peers.Connected(context.DnsEndPoint.Host, context.DnsEndPoint.Port,
                await guard.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, clientIsLocal, ct)), ownsSocket: true));
        return new HttpMessageInvoker(meter.Wrap(handler), disposeHandler: true); // times each fetch
    }

    /// <summary>
    /// The upstream handler settings every path shares (direct to origins, or through a parent proxy): nothing
    /// added behind the proxy's back, pooled connections, obs-text in header values (RFC 9110 5.5) forwarded
    /// byte for byte (Latin-1) rather than refused.
    /// </summary>
    public static SocketsHttpHandler NewHandler(NodeSettings settings) => new()
    {
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = settings.Proxy.ConnectTimeout,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        // Our trace context never reaches an origin (or parent) unless the operator asks for it.
        ActivityHeadersPropagator = settings.Tracing.Enabled && settings.Tracing.PropagateToOrigins
            ? DistributedContextPropagator.CreateDefaultPropagator() : DistributedContextPropagator.CreateNoOutputPropagator(),
        Expect100ContinueTimeout = TimeSpan.FromSeconds(1),
        RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
        ResponseHeaderEncodingSelector = (_, _) => Encoding.Latin1,
    };

    public Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct) =>
        NodeTracing.On ? TracedSendAsync(request, ct) : SendUntracedAsync(request, ct);

    /// <summary>The origin fetch's span, up to the response headers (what the origin latency measures too).</summary>
    private async Task<HttpResponseMessage> TracedSendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var span = NodeTracing.Source.StartActivity("origin fetch", ActivityKind.Client);
        if (span is not null && request.RequestUri is { } uri)
        {
            span.SetTag("http.request.method", request.Method.Method);
            span.SetTag("server.address", uri.Host);
            span.SetTag("server.port", uri.Port);
            span.SetTag("url.full", uri.GetLeftPart(UriPartial.Path)); // no query terms (tokens) in traces
        }
        try
        {
            var response = await SendUntracedAsync(request, ct);
            span?.SetTag("http.response.status_code", (int)response.StatusCode);
            return response;
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    private Task<HttpResponseMessage> SendUntracedAsync(HttpRequestMessage request, CancellationToken ct)
    {
        RenewPoolsIfListenersChanged();
        var invoker = ClientLocality.IsLocal ? _localInvoker : _invoker;
        return _parents is not null && _parents.Routes(request) ? _parents.SendAsync(request, (m, c) => SendDirectAsync(m, invoker, c), ct) : SendDirectAsync(request, invoker, ct);
    }

    /// <summary>Straight to the origin; notes the server's address for the access log (HIER_DIRECT/ip).</summary>
    private async Task<HttpResponseMessage> SendDirectAsync(HttpRequestMessage request, HttpMessageInvoker invoker, CancellationToken ct)
    {
        var response = await invoker.SendAsync(request, ct);
        if (request.RequestUri is { } uri)
            ProxyRequestInfo.Reached(UpstreamHop.Direct, _peers.Last(uri.IdnHost, uri.Port));
        return response;
    }

    /// <summary>Maps a failure to reach the origin to the status and sentence the client sees.</summary>
    public static (int Status, string Message) Describe(Exception ex, Uri target, bool timedOut)
    {
        var where = $"{target.Host}:{target.Port}";
        if (timedOut) return (504, $"the origin {where} did not answer in time");
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is DestinationRefusedException refused) return (403, refused.Message);
            // The client's own request body was malformed (e.g. a bad chunk, an overflowing chunk size): its fault, not the origin's.
            if (e is BadHttpRequestException bad) return (bad.StatusCode, $"the request body is malformed: {bad.Message}");
            if (e is ClientBodyException { InnerException: BadHttpRequestException inner })
                return (inner.StatusCode, $"the request body is malformed: {inner.Message}");
            if (e is ClientBodyException body) return (400, body.Message);
            if (e is SocketException se)
            {
                return se.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => (502, $"the origin {where} refused the connection"),
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => (502, $"the origin host '{target.Host}' could not be resolved"),
                    SocketError.TimedOut => (504, $"connecting to the origin {where} timed out"),
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => (502, $"the origin {where} is unreachable"),
                    SocketError.ConnectionReset => (502, $"the origin {where} reset the connection"),
                    _ => (502, $"cannot reach the origin {where}: {se.SocketErrorCode}"),
                };
            }
            if (e is TimeoutException or TaskCanceledException && e.InnerException is TimeoutException)
                return (504, $"connecting to the origin {where} timed out");
            if (e is AuthenticationException)
                return (502, $"TLS with the origin {where} failed: {e.Message}");
        }
        if (ex is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse })
            return (502, $"the origin {where} sent an invalid or incomplete response");
        return (502, $"the origin {where} failed: {ex.Message}");
    }

    public void Dispose()
    {
        _parents?.Dispose();
        _invoker.Dispose();
        _localInvoker.Dispose();
    }
}
