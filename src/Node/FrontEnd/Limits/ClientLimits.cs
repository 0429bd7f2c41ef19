using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Threading.RateLimiting;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace CacheCluster.Node.FrontEnd.Limits;

/// <summary>
/// Per-client and per-user limits (Limits:*): request rates (token buckets), concurrent requests per user,
/// open connections per client address; and the Kestrel limits against oversized and slow (slowloris) requests.
/// </summary>
public sealed class ClientLimits : IDisposable
{
    private readonly LimitSettings _settings;
    private readonly RequestRates? _clientRate;
    private readonly RequestRates? _userRate;
    private readonly PartitionedRateLimiter<string>? _userConcurrency;
    private readonly ConcurrentDictionary<IPAddress, int> _connections = new();
    private readonly ILogger<ClientLimits> _logger;
    private readonly BandwidthBudgets? _bandwidth;

    public ClientLimits(NodeSettings settings, ILogger<ClientLimits> logger)
    {
        _settings = settings.Policy.Limits;
        _logger = logger;
        if (_settings.ClientRequestsPerSecond > 0) _clientRate = Bucket(_settings.ClientRequestsPerSecond, _settings.ClientBurst);
        if (_settings.UserRequestsPerSecond > 0) _userRate = Bucket(_settings.UserRequestsPerSecond, _settings.UserBurst);
        if (_settings.ClientBandwidthBytesPerSecond > 0) _bandwidth = new BandwidthBudgets(_settings.ClientBandwidthBytesPerSecond);
        if (_settings.UserConcurrentRequests > 0)
            _userConcurrency = PartitionedRateLimiter.Create<string, string>(user => RateLimitPartition.GetConcurrencyLimiter(user,
                _ => new ConcurrencyLimiterOptions { PermitLimit = _settings.UserConcurrentRequests, QueueLimit = 0 }));
    }

    // Burst 0 means one second's worth of requests.
    private static RequestRates Bucket(int perSecond, int burst) => new(perSecond, burst > 0 ? burst : Math.Max(1, perSecond));

    /// <summary>Takes one request from the client's budget; null when allowed, else the seconds to wait.</summary>
    public int? TryClientRequest(IPAddress client) => Take(_clientRate, client.ToString());

    public int? TryUserRequest(string user) => Take(_userRate, user);

    /// <summary>A lease on one of the user's concurrent-request slots (dispose at the end of the request); null: none free.</summary>
    public IDisposable? TryUserSlot(string user, out bool limited)
    {
        limited = false;
        if (_userConcurrency is null) return null;
        var lease = _userConcurrency.AttemptAcquire(user);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        limited = true;
        return null;
    }

    private static int? Take(RequestRates? rates, string key) =>
        rates?.TryTake(key) is { } wait ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : null;

    private static readonly byte[] TooManyConnections = Encoding.ASCII.GetBytes(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 67\r\n\r\n" +
        "429 Too Many Requests: too many open connections from your address\n");

    /// <summary>Connection middleware: at most Limits:ClientConnections open connections per client address.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> ConnectionLimit => next => async connection =>
    {
        if ((_settings.ClientConnections <= 0 && _bandwidth is null) || connection.RemoteEndPoint is not IPEndPoint remote)
        {
            await next(connection);
            return;
        }
        var address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        if (_bandwidth is not null)
        {
            int burst = (int)Math.Min(int.MaxValue, _settings.ClientBandwidthBytesPerSecond);
            connection.Transport = new ThrottledPipe(connection.Transport, new ThrottledWriter(connection.Transport.Output, _bandwidth.Get(address), burst));
        }
        int open = _connections.AddOrUpdate(address, 1, (_, n) => n + 1);
        try
        {
            if (_settings.ClientConnections > 0 && open > _settings.ClientConnections)
            {
                _logger.LogWarning("Client {Client} refused: {Open} open connections (Limits:ClientConnections {Limit})", address, open, _settings.ClientConnections);
                await connection.Transport.Output.WriteAsync(TooManyConnections);
                await connection.Transport.Output.CompleteAsync();
                return;
            }
            await next(connection);
        }
        finally
        {
            if (_connections.AddOrUpdate(address, 0, (_, n) => n - 1) <= 0) _connections.TryRemove(KeyValuePair.Create(address, 0));
        }
    };

    /// <summary>Kestrel's own limits: sizes of the request line, headers and body; timeouts for slow clients.</summary>
    public static void ApplyTo(KestrelServerOptions kestrel, LimitSettings s)
    {
        kestrel.Limits.MaxRequestLineSize = s.MaxRequestLineBytes;
        kestrel.Limits.MaxRequestHeadersTotalSize = s.MaxRequestHeadersBytes;
        kestrel.Limits.MaxRequestHeaderCount = s.MaxRequestHeaderCount;
        kestrel.Limits.MaxRequestBodySize = s.MaxRequestBodyBytes;
        kestrel.Limits.RequestHeadersTimeout = s.RequestHeadersTimeout;
        kestrel.Limits.KeepAliveTimeout = s.KeepAliveTimeout;
        kestrel.Limits.MinRequestBodyDataRate = s.MinRequestBodyBytesPerSecond > 0
            ? new MinDataRate(s.MinRequestBodyBytesPerSecond, TimeSpan.FromSeconds(5)) : null;
        kestrel.Limits.MinResponseDataRate = MinResponseRate(s) is { } rate ? new MinDataRate(rate, TimeSpan.FromSeconds(5)) : null;
    }

    /// <summary>
    /// Bytes per second below which a client reading a response is dropped (it pins the response's buffers).
    /// Kestrel counts only time spent waiting for the client, so a response waiting on the origin or owner is
    /// never cut. With Limits:ClientBandwidth, each of a client's connections may get only its share of the
    /// bandwidth: the minimum drops to that share (at least 1 byte/s, so a client that stops reading still goes).
    /// </summary>
    public static double? MinResponseRate(LimitSettings s)
    {
        if (s.MinResponseBytesPerSecond <= 0) return null;
        if (s.ClientBandwidthBytesPerSecond <= 0) return s.MinResponseBytesPerSecond;
        long share = s.ClientConnections > 0 ? s.ClientBandwidthBytesPerSecond / s.ClientConnections : 1;
        return Math.Clamp(share, 1, s.MinResponseBytesPerSecond);
    }

    public void Dispose()
    {
        _bandwidth?.Dispose();
        _userConcurrency?.Dispose();
    }
}

/// <summary>One byte budget per client address, shared by its connections; idle ones are dropped.</summary>
internal sealed class BandwidthBudgets(long bytesPerSecond) : IDisposable
{
    private readonly ConcurrentDictionary<IPAddress, TokenBucketRateLimiter> _buckets = new();

    public RateLimiter Get(IPAddress client)
    {
        if (_buckets.Count > 10_000)
            foreach (var (key, bucket) in _buckets)
                if (bucket.IdleDuration > TimeSpan.FromMinutes(1) && _buckets.TryRemove(key, out var gone)) gone.Dispose();
        return _buckets.GetOrAdd(client, _ =>
        {
            int perSecond = (int)Math.Min(int.MaxValue, bytesPerSecond);
            return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond, // one second of burst
                TokensPerPeriod = Math.Max(1, perSecond / 20),
                ReplenishmentPeriod = TimeSpan.FromMilliseconds(50),
                QueueLimit = int.MaxValue,
                QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                AutoReplenishment = true,
            });
        });
    }

    public void Dispose()
    {
        foreach (var b in _buckets.Values) b.Dispose();
    }
}
