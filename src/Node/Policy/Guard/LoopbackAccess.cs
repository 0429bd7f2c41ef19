using System.Net;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Policy.Guard;

/// <summary>Who may reach the node host's loopback (127.0.0.0/8, ::1, 0.0.0.0) through the proxy (Guard:AllowLoopback).</summary>
public enum LoopbackAccess
{
    /// <summary>Only clients that are themselves on loopback (the local quick start); a LAN client cannot pivot (Squid's to_localhost).</summary>
    LocalClients,
    /// <summary>Every client (Guard:AllowLoopback=true): the host's local services are open to anyone who may use the proxy.</summary>
    All,
    /// <summary>No client (Guard:AllowLoopback=false).</summary>
    None,
}

/// <summary>
/// Whether the client of the request being served is on loopback, carried along the request's async flow so the
/// guard can judge a destination by who asked (set by <see cref="ClientLocality.Mark"/> before policy runs).
/// </summary>
public static class ClientLocality
{
    private static readonly AsyncLocal<bool> Local = new();

    /// <summary>True while serving a request from a loopback client; false elsewhere (the safe default).</summary>
    public static bool IsLocal => ProxyRequestInfo.Current is { } request ? request.ClientIsLocal : Local.Value;

    public static bool IsLoopbackClient(IPAddress? client) =>
        client is not null && IPAddress.IsLoopback(client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client);

    /// <summary>Middleware: records the client's locality for everything downstream of it in this request.</summary>
    public static Task Mark(HttpContext ctx, RequestDelegate next)
    {
        // Inside the proxy pipeline the request's own record (already flowing to the origin client) carries it:
        // setting a second AsyncLocal per request cost an execution-context copy on every hit.
        if (ctx.Features.Get<ProxyRequestInfo>() is { } request && ReferenceEquals(request, ProxyRequestInfo.Current))
            request.ClientIsLocal = IsLoopbackClient(ctx.Connection.RemoteIpAddress);
        else Local.Value = IsLoopbackClient(ctx.Connection.RemoteIpAddress);
        return next(ctx);
    }

    /// <summary>Parses Guard:AllowLoopback: LocalClients (default), All / true, None / false.</summary>
    public static bool TryParse(string value, out LoopbackAccess access)
    {
        switch (value.Trim().ToLowerInvariant())
        {
            case "true": case "all": access = LoopbackAccess.All; return true;
            case "false": case "none": access = LoopbackAccess.None; return true;
            case "localclients": case "local": access = LoopbackAccess.LocalClients; return true;
            default: access = LoopbackAccess.LocalClients; return false;
        }
    }
}
