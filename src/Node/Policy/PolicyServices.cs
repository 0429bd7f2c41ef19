using CacheCluster.Node.Configuration;
using CacheCluster.Node.FrontEnd.Auth;
using CacheCluster.Node.FrontEnd.Hardening;
using CacheCluster.Node.FrontEnd.Limits;
using CacheCluster.Node.Hosting;
using CacheCluster.Node.Management;
using CacheCluster.Node.Policy.Guard;
using CacheCluster.Node.Policy.Runtime;
using CacheCluster.Node.Proxy.Upstream;

namespace CacheCluster.Node.Policy;

/// <summary>Registers the policy, auth, privacy, limit and guard services, and the admission step.</summary>
public static class PolicyServices
{
    public static void Add(IServiceCollection services, NodeSettings settings)
    {
        StrictRequest.RejectBareLineFeeds();
        services.AddSingleton<HostResolver>();
        services.AddSingleton<DestinationGuard>();
        services.AddSingleton<LoopbackTargets>();
        services.AddSingleton<ClusterListeners>(); // other nodes' ports, refused like our own
        services.AddHostedService(sp => sp.GetRequiredService<ClusterListeners>());
        services.AddSingleton(sp => new AccessPolicy(settings.Policy.AccessRules, settings.Policy.ResolvePath, sp.GetRequiredService<ILogger<AccessPolicy>>(),
            settings.Policy.RuntimeResolvePath));
        services.AddSingleton<IRuntimePolicySection, AccessRulesSection>(); // SetPolicy "access_rules"
        services.AddSingleton<ProxyAuthenticator>();
        services.AddSingleton<ClientLimits>();
        services.AddSingleton<UpstreamHeaders>();
        services.AddSingleton<RequestAdmission>();
    }

    public static void Use(WebApplication app)
    {
        var guard = app.Services.GetRequiredService<DestinationGuard>();
        // Port 0 in Proxy:Listen / Management:Listen becomes a real port only once Kestrel has bound it.
        var management = app.Services.GetRequiredService<ManagementAddresses>();
        app.Lifetime.ApplicationStarted.Register(() => guard.AddBoundListeners(
            NodeHost.ProxyAddresses(app).Select(u => u.Port).Concat(management.EndPoints.Select(e => e.Port))));
        var admission = app.Services.GetRequiredService<RequestAdmission>();
        app.Use(ClientLocality.Mark); // the guard judges loopback destinations by who asks
        app.Use(app.Services.GetRequiredService<LoopbackTargets>().InvokeAsync);
        app.Use(admission.InvokeAsync);
        app.Lifetime.ApplicationStarted.Register(() => Task.Run(UrlPatterns.WarmUp));
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var s = app.Services.GetRequiredService<NodeSettings>().Policy;
            var rules = app.Services.GetRequiredService<AccessPolicy>().Current;
            var auth = app.Services.GetRequiredService<ProxyAuthenticator>();
            app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CacheCluster.Node.Policy").LogInformation(
                "Policy: {Rules} access rule(s) ({Names}); proxy auth {Auth}; loopback destinations {Loopback}, private {Private}; X-Forwarded-For {Xff}, Via {Via}",
                rules.Rules.Count, string.Join(", ", rules.Rules.Select(r => r.Name)),
                auth.Enabled ? (auth.Required ? "required" : "on demand") + $" ({s.Auth.HtpasswdFile})" : "off",
                s.Guard.Loopback switch { LoopbackAccess.All => "allowed", LoopbackAccess.None => "refused", _ => "allowed to loopback clients only" }, s.Guard.AllowPrivate ? "allowed" : "refused",
                s.Privacy.XForwardedFor, s.Privacy.Via ? "on" : "off");
        });
    }
}
