using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CacheCluster.Node.Management;

/// <summary>The management endpoints as bound (port 0 in configuration becomes a real port once Kestrel binds).</summary>
public sealed class ManagementAddresses
{
    private readonly List<ListenOptions> _listeners = [];

    public bool Tls { get; set; }

    /// <summary>When this node was built (uptime in status).</summary>
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    internal void Add(ListenOptions listen) => _listeners.Add(listen);

    public IReadOnlyList<IPEndPoint> EndPoints => [.. _listeners.Select(l => l.IPEndPoint!).Where(e => e is not null)];

    public IReadOnlyList<Uri> Uris => [.. EndPoints.Select(e => new Uri($"{(Tls ? "https" : "http")}://{e}/"))];

    public bool IsManagementPort(int port) => _listeners.Any(l => l.IPEndPoint?.Port == port);
}
