using CacheCluster.Management.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace CacheCluster.Ctl;

/// <summary>Where the CLI talks to (any node's management port) and with which token.</summary>
public sealed class Connection : IDisposable
{
    public const string DefaultAddress = "http://127.0.0.1:3129";
    private readonly GrpcChannel _channel;
    private readonly Metadata _headers = [];

    public Connection(string? address, string? token, bool insecure, TimeSpan? timeout)
    {
        address = string.IsNullOrWhiteSpace(address) ? DefaultAddress : address.Trim();
        if (!address.Contains("://", StringComparison.Ordinal)) address = "http://" + address;
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new UsageException($"--address: '{address}' is not a node's management address (example: http://127.0.0.1:3129)");
        Address = uri;
        var handler = new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true };
        if (insecure) handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        _channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = 64 << 20 });
        if (!string.IsNullOrEmpty(token)) _headers.Add("authorization", "Bearer " + token.Trim());
        Timeout = timeout;
        Client = new CacheManagement.CacheManagementClient(_channel);
    }

    public Uri Address { get; }
    public TimeSpan? Timeout { get; }
    public CacheManagement.CacheManagementClient Client { get; }

    /// <summary>Call options: the token, the deadline (unary calls), cancellation.</summary>
    public CallOptions Options(CancellationToken ct, bool streaming = false) =>
        new(_headers, streaming || Timeout is null ? null : DateTime.UtcNow + Timeout.Value, ct);

    public void Dispose() => _channel.Dispose();
}

/// <summary>A mistake in how the command was called (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
