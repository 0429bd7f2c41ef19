using System.Text;
using CacheCluster.Node.Configuration;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.FrontEnd.Pac;

/// <summary>
/// Serves /proxy.pac and /wpad.dat on the proxy port to origin-form requests (a browser fetching its
/// configuration), never to proxied absolute-form requests or reverse-proxy sites (Proxy:Sites) whose
/// origins may have such paths of their own.
/// </summary>
public sealed class PacEndpoint(NodeSettings settings, CacheCluster.Node.FrontEnd.Tls.HttpsProxyAddresses? httpsProxy = null)
{
    public const string ContentType = "application/x-ns-proxy-autoconfig";
    private readonly PacSettings _pac = settings.Pac;
    // With configured proxies the script never changes: generate it once.
    private readonly byte[]? _fixed = settings.Pac.Proxies.Count > 0
        ? Encoding.UTF8.GetBytes(PacScript.Generate(settings.Pac, settings.Pac.Proxies, settings.NodeName)) : null;
    private readonly string _cacheControl = $"public, max-age={(long)settings.Pac.MaxAge.TotalSeconds}";

    /// <summary>Cheap test run before the proxy handler: a raw target of exactly /proxy.pac or /wpad.dat (query ignored).</summary>
    public bool Matches(HttpContext ctx)
    {
        if (!_pac.Enabled) return false;
        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (raw is null || raw.Length < 9 || raw[0] != '/') return false;
        var path = raw.AsSpan();
        if (path.IndexOf('?') is var q and >= 0) path = path[..q];
        if (!path.Equals("/proxy.pac", StringComparison.OrdinalIgnoreCase) && !path.Equals("/wpad.dat", StringComparison.OrdinalIgnoreCase)) return false;
        if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method)) return false;
        var host = ctx.Request.Headers.Host.ToString();
        var sites = settings.Proxy.Sites;
        return sites.Count == 0 || !(sites.ContainsKey(host) || sites.ContainsKey(host.Split(':')[0]));
    }

    public Task ServeAsync(HttpContext ctx)
    {
        var body = _fixed ?? Encoding.UTF8.GetBytes(PacScript.Generate(_pac, SelfProxies(ctx), settings.NodeName));
        var response = ctx.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.CacheControl = _cacheControl;
        response.ContentLength = body.Length;
        return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(body).AsTask();
    }

    /// <summary>
    /// No Pac:Proxies: this node under the name the client used. Fetched over the HTTPS proxy listener: that listener
    /// (HTTPS). Over the plain one while an HTTPS listener exists: HTTPS on its port first, then the plain port.
    /// </summary>
    private IReadOnlyList<string> SelfProxies(HttpContext ctx)
    {
        var (name, port) = SelfProxy(ctx);
        var https = httpsProxy?.EndPoints ?? [];
        if (https.Count == 0) return [$"{name}:{port}"];
        if (httpsProxy!.IsHttpsProxyPort(ctx.Connection.LocalPort)) return [$"HTTPS {name}:{port}"];
        return [$"HTTPS {name}:{https[0].Port}", $"{name}:{port}"];
    }

    /// <summary>The name and port the client used to fetch the script (a Service name behind a load balancer).</summary>
    private static (string Name, int Port) SelfProxy(HttpContext ctx)
    {
        var host = ctx.Request.Host;
        var name = host.HasValue ? host.Host.Trim('[', ']') : "";
        // Only a host name or address may go in: Host is client input and ends up in a script.
        if (Uri.CheckHostName(name) == UriHostNameType.Unknown) name = ctx.Connection.LocalIpAddress?.ToString() ?? "127.0.0.1";
        if (name.Contains(':')) name = $"[{name}]";
        return (name, host.Port ?? ctx.Connection.LocalPort);
    }
}
