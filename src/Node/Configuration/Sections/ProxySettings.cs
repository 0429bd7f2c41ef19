using System.Net;

namespace CacheCluster.Node.Configuration;

/// <summary>Proxy:* — where clients connect, what CONNECT may reach, origin timeouts, reverse-proxy sites.</summary>
public sealed class ProxySettings
{
    internal static readonly string[] Keys =
        ["Listen", "ConnectPorts", "ConnectTimeout", "OriginTimeout", "OriginIdleTimeout", "Sites", "ViaName", "CacheName", "DebugHeaders", "InlineIo",
         "HttpsListen", "Tls"]; // the HTTPS proxy listener (FrontEnd/Tls/HttpsProxySettings.cs)

    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    public required IReadOnlySet<int> ConnectPorts { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }
    public required TimeSpan OriginTimeout { get; init; }
    /// <summary>An origin body that sends nothing for this long is given up (client connection and fill aborted).</summary>
    public TimeSpan OriginIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Reverse-proxy (accelerator) sites: public host name -> origin base URL.</summary>
    public required IReadOnlyDictionary<string, Uri> Sites { get; init; }
    public required string ViaName { get; init; }
    public required string CacheName { get; init; }
    /// <summary>Adds X-Cache-Node / X-Cache-Owner (node names) to responses: for benchmarks and debugging.</summary>
    public bool DebugHeaders { get; init; }
    /// <summary>
    /// Proxy:InlineIo (default true): socket completions run on the socket event threads (.NET's
    /// DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS, one event thread per core) instead of being handed to the thread
    /// pool after each read and write, and Kestrel runs a request on the event thread that read it up to its first
    /// wait (its UnsafePreferInlineScheduling; a hot-copy hit runs there entirely). Measured on one node: 1 KiB hits
    /// 36k -> 55k req/s (0.77x -> 1.16x ATS), 64 KiB 0.78x -> 0.85x with the first; the second added 64 KiB 0.65x ->
    /// 0.91x, 1 MiB 0.66x -> 0.77x. Every socket of the process shares those threads, so nothing on the request path
    /// may block (docs/architecture.md, "Threads"); false goes back to the hand-offs.
    /// </summary>
    public bool InlineIo { get; init; }
    /// <summary>The HTTPS proxy listener: Proxy:HttpsListen, Proxy:Tls:* (FrontEnd/Tls).</summary>
    public FrontEnd.Tls.HttpsProxySettings Https { get; init; } = FrontEnd.Tls.HttpsProxySettings.Off;

    internal static ProxySettings Read(SettingsReader r)
    {
        r.RejectUnknown("Proxy", Keys);
        return new ProxySettings
        {
            Listen = r.Endpoints("Proxy:Listen", "127.0.0.1:3128"),
            ConnectPorts = r.Ports("Proxy:ConnectPorts", [443]),
            ConnectTimeout = r.Duration("Proxy:ConnectTimeout", TimeSpan.FromSeconds(10)),
            OriginTimeout = r.Duration("Proxy:OriginTimeout", TimeSpan.FromSeconds(60)),
            OriginIdleTimeout = r.Duration("Proxy:OriginIdleTimeout", TimeSpan.FromSeconds(30)),
            Sites = r.Sites("Proxy:Sites"),
            ViaName = r.Token("Proxy:ViaName", Environment.MachineName),
            CacheName = r.Token("Proxy:CacheName", "CacheCluster"),
            DebugHeaders = r.Bool("Proxy:DebugHeaders", false),
            InlineIo = r.Bool("Proxy:InlineIo", true),
            Https = FrontEnd.Tls.HttpsProxySettings.Read(r),
        };
    }
}
