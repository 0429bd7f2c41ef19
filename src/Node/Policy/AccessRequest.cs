using System.Net;

namespace CacheCluster.Node.Policy;

/// <summary>What the access rules look at for one request.</summary>
public readonly record struct AccessRequest(
    IPAddress Client,
    string Host,
    int Port,
    string Method,
    string Url,
    string? User,
    IReadOnlySet<string>? Groups,
    DateTime LocalTime)
{
    /// <summary>The destination's addresses (the URL's literal address, or what its name resolved to); only worked out when a rule has <c>dst</c>.</summary>
    public IReadOnlyList<IPAddress>? DestinationAddresses { get; init; }
}

public enum AccessVerdict { Allow, Deny, Challenge }

/// <summary>The outcome: which rule decided (1-based index, 0 for the implicit final deny) and how.</summary>
public readonly record struct AccessDecision(AccessVerdict Verdict, string RuleName, int RuleIndex, string? Note = null)
{
    public bool Allowed => Verdict == AccessVerdict.Allow;
}
