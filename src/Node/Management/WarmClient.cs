using System.Diagnostics;
using System.Net;
using CacheCluster.Management.V1;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace CacheCluster.Node.Management;

/// <summary>
/// Warms the cache by sending GETs through this node's own proxy listener: the normal request path, so a
/// warm fetch is collapsed with real traffic (single-flight), stored by the usual rules and counted and logged
/// like any request.
/// </summary>
public sealed class WarmClient(IServer server, ManagementAddresses management) : IDisposable
{
    private static readonly TimeSpan FetchTimeout = TimeSpan.FromMinutes(5);
    private HttpClient? _client;

    private HttpClient Client => _client ??= Create();

    private HttpClient Create()
    {
        var proxy = server.Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a)).FirstOrDefault(u => !management.IsManagementPort(u.Port) && u.Host != Proxy.Intercept.BumpEndPoint.Name)
            ?? throw new InvalidOperationException("this node has no proxy listener");
        var host = proxy.Host is "0.0.0.0" or "[::]" or "::" ? "127.0.0.1" : proxy.Host;
        var handler = new SocketsHttpHandler
        {
            Proxy = new WebProxy(new Uri($"http://{host}:{proxy.Port}/")),
            UseProxy = true,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            MaxConnectionsPerServer = 64,
        };
        return new HttpClient(handler) { Timeout = FetchTimeout };
    }

    public async Task<WarmResult> FetchAsync(string url, CancellationToken ct)
    {
        var result = new WarmResult { Url = url };
        if (!Uri.TryCreate(url?.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            result.Error = $"'{url}' is not an absolute http(s) URL";
            return result;
        }
        if (uri.Scheme == "https")
        {
            // HTTPS goes through CONNECT tunnels, which the cache cannot see into.
            result.Error = "https URLs cannot be cached (the proxy tunnels them)";
            return result;
        }
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await Client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, ct);
            result.Status = (int)response.StatusCode;
            result.CacheStatus = response.Headers.TryGetValues("Cache-Status", out var cs) ? string.Join(", ", cs) : "";
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[64 * 1024];
            long total = 0;
            int n;
            while ((n = await body.ReadAsync(buffer, ct)) > 0) total += n;
            result.Bytes = total;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            result.Error = ex.Message;
        }
        result.ElapsedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        return result;
    }

    public void Dispose() => _client?.Dispose();
}
