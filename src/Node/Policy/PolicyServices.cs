using CacheCluster.Node.Auth;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Guard;
using CacheCluster.Node.Limits;
using CacheCluster.Node.Privacy;

namespace CacheCluster.Node.Policy;

/// <summary>Registers the policy, auth, privacy, limit and guard services, and the admission step.</summary>
public static class PolicyServices
{
    public static void Add(IServiceCollection services, NodeSettings settings)
    {
        CacheCluster.Node.Hardening.StrictRequest.RejectBareLineFeeds();
        services.AddSingleton<HostResolver>();
        services.AddSingleton<DestinationGuard>();
        services.AddSingleton(sp => new AccessPolicy(settings.Policy.AccessRules, settings.Policy.ResolvePath, sp.GetRequiredService<ILogger<AccessPolicy>>()));
        services.AddSingleton<ProxyAuthenticator>();
        services.AddSingleton<ClientLimits>();
        services.AddSingleton<UpstreamHeaders>();
        services.AddSingleton<RequestAdmission>();
    }

    public static void Use(WebApplication app)
    {
        var guard = app.Services.GetRequiredService<DestinationGuard>();
        // Port 0 in Proxy:Listen becomes a real port only at start: the guard asks Kestrel when first needed.
        guard.UseBoundPorts(() => CacheCluster.Node.Hosting.NodeHost.ProxyAddresses(app).Select(u => u.Port));
        var admission = app.Services.GetRequiredService<RequestAdmission>();
        app.Use(admission.InvokeAsync);
    }
}
