using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>Wires TLS interception into a node: the services always (ConnectTunnel asks them), the internal endpoint only when on.</summary>
public static class InterceptServices
{
    public static void Add(IServiceCollection services, NodeSettings settings)
    {
        services.AddSingleton(settings.Intercept);
        services.AddSingleton<LeafMinter>();
        services.AddSingleton<LeafCertificates>();
        services.AddSingleton<TlsInterceptor>();
        services.AddSingleton<BumpListener>();
        // A second Kestrel transport, bound only to the bump endpoint (IConnectionListenerFactorySelector): the socket
        // transport keeps every real listener.
        if (settings.Intercept.Enabled)
            services.AddSingleton<IConnectionListenerFactory>(sp => sp.GetRequiredService<BumpListener>());
    }

    public static void Listen(KestrelServerOptions kestrel, NodeSettings settings)
    {
        if (!settings.Intercept.Enabled) return;
        var interceptor = kestrel.ApplicationServices.GetRequiredService<TlsInterceptor>();
        kestrel.Listen(new BumpEndPoint(), listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = interceptor.HandshakeAsync,
                HandshakeTimeout = TimeSpan.FromSeconds(10),
            });
            listen.Use(ConnectionBytes.Count); // after TLS: the decrypted bytes each request sends (stats, access log)
        });
    }
}
