namespace CacheCluster.Node.Policy;

/// <summary>
/// Who made the request, as the admission step established it: the authenticated proxy user (null when
/// none), their groups, and the access rule that let the request in. Read it with
/// ctx.Features.Get&lt;IProxyUserFeature&gt;() (e.g. for the access log); ctx.User carries the same name.
/// </summary>
public interface IProxyUserFeature
{
    string? User { get; }
    IReadOnlySet<string> Groups { get; }
    string RuleName { get; }
}

internal sealed record ProxyUserFeature(string? User, IReadOnlySet<string> Groups, string RuleName) : IProxyUserFeature;
