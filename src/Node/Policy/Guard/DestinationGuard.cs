using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy;

namespace CacheCluster.Node.Policy.Guard;

/// <summary>A destination the guard refuses; the message says which address and why (shown to the client as 403).</summary>
public sealed class DestinationRefusedException(string message) : Exception(message);

/// <summary>
/// SSRF guard: decides on the addresses a destination name resolves to at connect time (so a name that
/// re-resolves to a forbidden address, DNS rebinding, is still refused), never on the name. Always refused:
/// link-local (169.254.0.0/16, fe80::/10, which hold the cloud metadata services), other metadata addresses,
/// unspecified/multicast/broadcast, this node's own listeners and the other cluster nodes' ports (silo, gateway,
/// proxy, management). Loopback unless the client itself is on loopback (Guard:AllowLoopback=LocalClients, the
/// default; All / None), private ranges when Guard:AllowPrivate=false, and Guard:DenyNetworks. Guard:AllowNetworks
/// overrides all but the nodes' own listeners. Origins named in Proxy:Sites are trusted (the operator chose them).
/// </summary>
public sealed class DestinationGuard
{
    private static readonly IPNetwork[] LinkLocal = [IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("fe80::/10")];
    private static readonly IPNetwork[] Metadata =
    [
        IPNetwork.Parse("100.100.100.200/32"), // Alibaba Cloud
        IPNetwork.Parse("fd00:ec2::254/128"),  // AWS IMDS over IPv6
        IPNetwork.Parse("192.0.0.192/32"),     // Oracle Cloud (legacy)
    ];
    private static readonly IPNetwork[] Special =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/128"), IPNetwork.Parse("ff00::/8"),
    ];
    private static readonly IPNetwork[] Private =
    [
        IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("fc00::/7"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    private readonly GuardSettings _settings;
    private readonly HostResolver _resolver;
    private readonly HashSet<(string Host, int Port)> _trusted;
    private readonly ConcurrentDictionary<int, byte> _ownPorts = new();
    private readonly Lazy<HashSet<IPAddress>> _localAddresses = new(LocalAddresses);
    private readonly ClusterListeners? _cluster;

    public DestinationGuard(NodeSettings settings, HostResolver resolver, ClusterListeners? cluster = null)
    {
        _cluster = cluster;
        _settings = settings.Policy.Guard;
        _resolver = resolver;
        _trusted = [.. settings.Proxy.Sites.Values.Select(u => (u.IdnHost.ToLowerInvariant(), u.Port))];
        foreach (var ep in settings.Proxy.Listen) if (ep.Port != 0) _ownPorts[ep.Port] = 0;
        foreach (var ep in settings.Proxy.Https.Listen) if (ep.Port != 0) _ownPorts[ep.Port] = 0;
        _ownPorts[settings.Cluster.SiloPort] = 0;
        if (settings.Cluster.GatewayEnabled) _ownPorts[settings.Cluster.GatewayPort] = 0;
        foreach (var ep in settings.Management.Listen) if (ep.Port != 0) _ownPorts[ep.Port] = 0;
    }

    private readonly TaskCompletionSource _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Registers the ports Kestrel bound (port 0 in configuration becomes real only then), so the proxy never connects to them.</summary>
    public void AddBoundListeners(IEnumerable<int> ports)
    {
        foreach (var p in ports) _ownPorts[p] = 0;
        Interlocked.Increment(ref _ownVersion);
        _bound.TrySetResult();
    }

    private long _ownVersion;

    /// <summary>
    /// Grows whenever a listener of this node or another becomes known. The guard judges a destination when a
    /// connection is opened, so the origin client drops its pooled connections when this changes: one opened before
    /// a node's ports were known must not carry a later request to them.
    /// </summary>
    public long ListenersVersion => Interlocked.Read(ref _ownVersion) + (_cluster?.Version ?? 0);

    /// <summary>Completes once <see cref="AddBoundListeners"/> ran: <see cref="OwnPorts"/> is whole from then on.</summary>
    public Task ListenersBound => _bound.Task;

    /// <summary>The ports this node listens on (proxy, management, silo, gateway), as bound: what other nodes refuse.</summary>
    public int[] OwnPorts()
    {
        return [.. _ownPorts.Keys.Where(p => p != 0).Order()];
    }

    /// <summary>Why this address:port is refused for a client on loopback (<paramref name="clientIsLocal"/>) or not, or null when it may be connected to.</summary>
    public string? Refusal(IPAddress address, int port, bool clientIsLocal)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits: judge that address.
        if (Nat64.Contains(address)) address = new IPAddress(address.GetAddressBytes().AsSpan(12, 4));
        if (IsOwnListener(address, port)) return "it is this proxy node's own listener";
        if (_cluster?.NodeAt(address, port, IsLocalAddress) is { } node) return $"it is a listener of cluster node {node}";
        foreach (var n in _settings.AllowNetworks) if (n.Contains(address)) return null;
        if (In(LinkLocal, address)) return "link-local addresses (cloud metadata services) are never reached through the proxy";
        if (In(Metadata, address)) return "cloud metadata addresses are never reached through the proxy";
        if (In(Special, address) || address.Equals(IPAddress.Broadcast)) return "it is not a unicast address";
        if (IPAddress.IsLoopback(address))
        {
            if (_settings.Loopback == LoopbackAccess.None) return "loopback destinations are refused (Guard:AllowLoopback)";
            if (_settings.Loopback == LoopbackAccess.LocalClients && !clientIsLocal)
                return "the proxy host's loopback is reachable only for clients on that host (Guard:AllowLoopback)";
        }
        if (!_settings.AllowPrivate && In(Private, address)) return "private-range destinations are refused (Guard:AllowPrivate)";
        foreach (var n in _settings.DenyNetworks) if (n.Contains(address)) return $"{n} is refused (Guard:DenyNetworks)";
        return null;
    }

    private bool IsOwnListener(IPAddress address, int port)
    {
        if (!_ownPorts.ContainsKey(port)) return false;
        return IsLocalAddress(address);
    }

    /// <summary>Loopback, unspecified, or one of this host's interface addresses.</summary>
    private bool IsLocalAddress(IPAddress address) =>
        IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || _localAddresses.Value.Contains(address);

    /// <summary>Connects on behalf of the request being served (its client's locality: <see cref="ClientLocality"/>).</summary>
    public Task<Socket> ConnectAsync(string host, int port, CancellationToken ct) => ConnectAsync(host, port, ClientLocality.IsLocal, ct);

    /// <summary>
    /// Resolves <paramref name="host"/>, drops refused addresses and connects to the first allowed one that
    /// answers. Throws <see cref="DestinationRefusedException"/> when every address is refused.
    /// </summary>
    public async Task<Socket> ConnectAsync(string host, int port, bool clientIsLocal, CancellationToken ct)
    {
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        bool trusted = _trusted.Contains((bare.ToLowerInvariant(), port));
        var addresses = await _resolver.ResolveAsync(bare, ct);
        string? firstRefusal = null;
        SocketException? lastError = null;
        foreach (var address in addresses)
        {
            var refusal = Refusal(address, port, clientIsLocal);
            if (refusal is not null && !(trusted && !IsOwnListener(address, port) && _cluster?.NodeAt(address, port, IsLocalAddress) is null))
            {
                firstRefusal ??= IPAddress.TryParse(bare, out _)
                    ? $"the destination {address}:{port} is refused: {refusal}"
                    : $"the destination '{bare}' resolves to {address}, which is refused: {refusal}";
                continue;
            }
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), ct);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                lastError = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        if (lastError is not null) throw lastError;
        throw new DestinationRefusedException(firstRefusal ?? $"the destination '{bare}' has no address");
    }

    private static bool In(IPNetwork[] networks, IPAddress a)
    {
        foreach (var n in networks) if (n.Contains(a)) return true;
        return false;
    }

    private static HashSet<IPAddress> LocalAddresses()
    {
        var set = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
                foreach (var ua in nic.GetIPProperties().UnicastAddresses) set.Add(ua.Address);
        }
        catch (NetworkInformationException) { }
        return set;
    }
}
