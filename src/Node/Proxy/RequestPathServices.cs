using CacheCluster.Node.ClusterClient;
using CacheCluster.Node.Proxy.Compression;
using CacheCluster.Node.Proxy.Responses;
using CacheCluster.Node.Proxy.Steps;

namespace CacheCluster.Node.Proxy;

/// <summary>The request path's parts, one instance each for the node's lifetime (all per-request state is in ProxyRequest).</summary>
public static class RequestPathServices
{
    public static IServiceCollection AddRequestPath(this IServiceCollection services)
    {
        services.AddSingleton<OriginClient>();
        services.AddSingleton<ConnectTunnel>();
        services.AddSingleton<RangeContinuation>();
        // Shared by the steps: responses from stored entries, messages to the origin, the cluster client.
        services.AddSingleton<CompressionPolicy>();
        services.AddSingleton<EncodedBody>();
        services.AddSingleton<StoredHead>();
        services.AddSingleton<StoredBody>();
        services.AddSingleton<UpstreamMessages>();
        services.AddSingleton<BodyCopy>();
        services.AddSingleton<OwnerLookup>();
        services.AddSingleton<UnresponsiveOwners>(); // owners that just timed out: bypassed at once for a while
        services.AddSingleton<FillFollower>();
        services.AddSingleton<VariantPlacement>();
        services.AddSingleton<UnsafeInvalidation>();
        services.AddSingleton<StaleOnError>();
        services.AddSingleton<BackgroundRevalidation>();
        // The steps, and the dispatcher that runs them.
        services.AddSingleton<ReceiveStep>();
        services.AddSingleton<PurgeStep>();
        services.AddSingleton<HotCopyStep>();
        services.AddSingleton<LookUpStep>();
        services.AddSingleton<HitStep>();
        services.AddSingleton<EncodeStep>();
        services.AddSingleton<ServeStaleStep>();
        services.AddSingleton<ExpiredStep>();
        services.AddSingleton<MissStep>();
        services.AddSingleton<FollowStep>();
        services.AddSingleton<FetchStep>();
        services.AddSingleton<OriginFailedStep>();
        services.AddSingleton<RevalidatedStep>();
        services.AddSingleton<StoreStep>();
        services.AddSingleton<DeliverStep>();
        services.AddSingleton<ProxyHandler>();
        return services;
    }
}
