using Grpc.Core;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// The call context the dashboard hands to <see cref="Management.ManagementService"/> when it calls the API
/// in-process: the service only reads the cancellation token, so the rest is inert.
/// </summary>
internal sealed class LocalCallContext(string method, CancellationToken ct) : ServerCallContext
{
    protected override string MethodCore => method;
    protected override string HostCore => "dashboard";
    protected override string PeerCore => "dashboard";
    protected override DateTime DeadlineCore => DateTime.MaxValue;
    protected override Metadata RequestHeadersCore { get; } = [];
    protected override CancellationToken CancellationTokenCore => ct;
    protected override Metadata ResponseTrailersCore { get; } = [];
    protected override Status StatusCore { get; set; }
    protected override WriteOptions? WriteOptionsCore { get; set; }
    protected override AuthContext AuthContextCore => new(null, []);
    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();
    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
