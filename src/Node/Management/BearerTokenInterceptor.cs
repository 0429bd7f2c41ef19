using System.Text;
using CacheCluster.Node.Configuration;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace CacheCluster.Node.Management;

/// <summary>
/// Every management call must carry <c>authorization: Bearer &lt;Management:Token&gt;</c> when a token is set;
/// the gRPC health service is exempt (probes carry no secrets). Wrong or missing token: UNAUTHENTICATED.
/// </summary>
public sealed class BearerTokenInterceptor(NodeSettings settings) : Interceptor
{
    private readonly byte[]? _token = settings.Management.Token is { } t ? Encoding.UTF8.GetBytes(t) : null;

    private void Check(ServerCallContext context)
    {
        if (_token is null || context.Method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal)) return;
        switch (BearerToken.Check(_token, context.RequestHeaders.GetValue("authorization")))
        {
            case BearerToken.Result.Missing:
                throw new RpcException(new Status(StatusCode.Unauthenticated, "this management API needs a token: send 'authorization: Bearer <token>' (cachectl --token or CACHECTL_TOKEN)"));
            case BearerToken.Result.Wrong:
                throw new RpcException(new Status(StatusCode.Unauthenticated, "the management token is wrong (compare with the node's Management:Token / Management:TokenFile)"));
        }
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }
}
