using System.Net;
using Microsoft.Extensions.Logging;

namespace CacheCluster.TestOrigin;

/// <summary>Options for <see cref="OriginServer.StartAsync"/>.</summary>
public sealed class OriginOptions
{
    /// <summary>
    /// The address to listen on: 127.0.0.1 (the default), or an address of a test network the test created itself
    /// (nodes in network namespaces reach the origin there).
    /// </summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>HTTP port on <see cref="Address"/>; 0 (the default) picks a free port.</summary>
    public int Port { get; set; }

    /// <summary>Also listen for HTTPS (self-signed certificate for localhost / 127.0.0.1 made in-process).</summary>
    public bool EnableHttps { get; set; }

    /// <summary>HTTPS port on 127.0.0.1 when <see cref="EnableHttps"/>; 0 (the default) picks a free port.</summary>
    public int HttpsPort { get; set; }

    /// <summary>How many <see cref="RecordedRequest"/>s to keep (oldest dropped first). Counters are not capped.</summary>
    public int MaxRecordedRequests { get; set; } = 10_000;

    /// <summary>Write logs of at least this level to the console; null (the default) logs nothing.</summary>
    public LogLevel? ConsoleLogLevel { get; set; }
}
