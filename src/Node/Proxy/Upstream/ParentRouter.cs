using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Proxy.Upstream;

/// <summary>
/// Sends origin requests through parent proxies (Upstream:Parents): the URL's first-ranked parent that is up,
/// then the next ones when a connection fails, then the origin itself (Upstream:DirectFallback). Reverse-proxy
/// sites (a Host override) and Upstream:AlwaysDirect hosts go straight to the origin. Parents found down are
/// skipped until the background probe reaches them again.
/// </summary>
public sealed class ParentRouter : IDisposable
{
    private sealed class Parent(ParentProxy proxy, HttpMessageInvoker invoker)
    {
        public ParentProxy Proxy { get; } = proxy;
        public HttpMessageInvoker Invoker { get; } = invoker;
        public volatile bool Up = true;
    }

    private readonly UpstreamSettings _settings;
    private readonly TimeSpan _connectTimeout;
    private readonly ILogger _log;
    private readonly Parent[] _parents;
    private readonly IReadOnlyList<ParentProxy> _proxies;
    private readonly CancellationTokenSource _stop = new();
    private readonly PeerAddresses _peers;

    public ParentRouter(NodeSettings settings, PeerAddresses peers, ILogger log)
    {
        _peers = peers;
        _settings = settings.Upstream;
        _connectTimeout = settings.Proxy.ConnectTimeout;
        _log = log;
        _proxies = _settings.Parents;
        _parents = [.. _proxies.Select(p =>
        {
            // The parent is an HTTP proxy: absolute-form requests for http URLs, CONNECT for https.
            var handler = Proxy.OriginClient.NewHandler(settings);
            handler.UseProxy = true;
            handler.Proxy = new WebProxy(new Uri($"http://{p.Name}/"));
            // Notes the parent's address for the access log (FIRSTUP_PARENT/ip, CARP/ip).
            handler.ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try { await socket.ConnectAsync(context.DnsEndPoint, ct); }
                catch { socket.Dispose(); throw; }
                return new NetworkStream(peers.Connected(context.DnsEndPoint.Host, context.DnsEndPoint.Port, socket), ownsSocket: true);
            };
            return new Parent(p, new HttpMessageInvoker(handler, disposeHandler: true));
        })];
        if (_parents.Length > 0) _ = Task.Run(ProbeLoopAsync);
    }

    /// <summary>Each parent (Name as configured) and whether it counts as up now (cachecluster_parent_up).</summary>
    public IEnumerable<(string Name, bool Up)> Health() => _parents.Select(p => (p.Proxy.Name, p.Up));

    /// <summary>Whether this request goes through a parent at all.</summary>
    public bool Routes(HttpRequestMessage request) =>
        _parents.Length > 0 && request.Headers.Host is null && request.RequestUri is { } uri && !IsAlwaysDirect(uri.IdnHost);

    private bool IsAlwaysDirect(string host)
    {
        foreach (var d in _settings.AlwaysDirectDomains)
            if (host.Equals(d, StringComparison.OrdinalIgnoreCase)
                || (host.Length > d.Length && host.EndsWith(d, StringComparison.OrdinalIgnoreCase) && host[host.Length - d.Length - 1] == '.'))
                return true;
        if (_settings.AlwaysDirectNetworks.Count > 0 && IPAddress.TryParse(host.Trim('[', ']'), out var ip))
            foreach (var n in _settings.AlwaysDirectNetworks)
                if (n.Contains(ip)) return true;
        return false;
    }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> direct,
        CancellationToken ct)
    {
        var order = ParentRanking.Rank(_proxies, request.RequestUri!.OriginalString);
        bool anyUp = false;
        foreach (var p in _parents) anyUp |= p.Up;
        var message = request;
        List<string>? failures = null;
        for (int rank = 0; rank < order.Length; rank++)
        {
            var parent = _parents[order[rank]];
            // A parent marked down is skipped, unless every parent is down and there is no going direct: then try anyway.
            if (!parent.Up && (anyUp || _settings.DirectFallback)) continue;
            try
            {
                var response = await parent.Invoker.SendAsync(message, ct);
                // Squid's hierarchy codes: the hash-chosen parent is CARP; one parent, or the next one up after a failure, FIRSTUP_PARENT.
                ProxyRequestInfo.Reached(
                    rank == 0 && _parents.Length > 1 ? UpstreamHop.Carp : UpstreamHop.FirstUpParent,
                    _peers.Last(parent.Proxy.Host, parent.Proxy.Port));
                return response;
            }
            catch (Exception ex) when (IsConnectFailure(ex, ct))
            {
                MarkDown(parent, ex);
                (failures ??= []).Add($"{parent.Proxy.Name}: {Reason(ex)}");
                message = Clone(message); // nothing was sent: the body (if any) is still unread
            }
        }
        if (_settings.DirectFallback) return await direct(message, ct);
        throw new HttpRequestException(HttpRequestError.ConnectionError,
            "no parent proxy could be reached (" + (failures is null ? "all are down" : string.Join("; ", failures)) + ") and Upstream:DirectFallback is false");
    }

    /// <summary>The connection to the parent failed (refused, unreachable, connect timeout): safe to try elsewhere.</summary>
    private static bool IsConnectFailure(Exception ex, CancellationToken ct) => ex switch
    {
        HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.ProxyTunnelError } => true,
        HttpRequestException h when h.InnerException is SocketException => true,
        OperationCanceledException when !ct.IsCancellationRequested => true, // ConnectTimeout, not the caller's timeout
        _ => false,
    };

    private static string Reason(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
            if (e is SocketException se) return se.SocketErrorCode.ToString();
        return ex is OperationCanceledException ? "connect timeout" : ex.Message;
    }

    private void MarkDown(Parent parent, Exception ex)
    {
        if (!parent.Up) return;
        parent.Up = false;
        _log.LogWarning("Parent proxy {Parent} is unreachable ({Reason}); its URLs go to the next parent{Direct} until it answers again",
            parent.Proxy.Name, Reason(ex), _settings.DirectFallback ? " or direct" : "");
    }

    private static HttpRequestMessage Clone(HttpRequestMessage m)
    {
        var copy = new HttpRequestMessage(m.Method, m.RequestUri) { Version = m.Version, VersionPolicy = m.VersionPolicy, Content = m.Content };
        foreach (var (name, values) in m.Headers.NonValidated) copy.Headers.TryAddWithoutValidation(name, values);
        return copy;
    }

    /// <summary>Probes every parent with a TCP connect each HealthCheckInterval; brings recovered parents back.</summary>
    private async Task ProbeLoopAsync()
    {
        using var timer = new PeriodicTimer(_settings.HealthCheckInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
                await Task.WhenAll(_parents.Select(ProbeAsync));
        }
        catch (OperationCanceledException) { }
    }

    private async Task ProbeAsync(Parent parent)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(_connectTimeout < _settings.HealthCheckInterval ? _connectTimeout : _settings.HealthCheckInterval);
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(parent.Proxy.Host, parent.Proxy.Port, timeout.Token);
            if (!parent.Up)
            {
                parent.Up = true;
                _log.LogInformation("Parent proxy {Parent} answers again; URLs hashed to it go there", parent.Proxy.Name);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            if (_stop.IsCancellationRequested) return;
            MarkDown(parent, ex);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        foreach (var p in _parents) p.Invoker.Dispose();
        _stop.Dispose();
    }
}
