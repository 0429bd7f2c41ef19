using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy.Runtime;

namespace CacheCluster.Node.Policy;

/// <summary>
/// The access rules as a runtime-policy section: the management API's SetPolicy validates them on the node
/// that received the call and applies them on every node (each swaps its compiled rule set whole). List files
/// are only read from Access:ListDirectory here (<see cref="ListFiles"/>).
/// </summary>
public sealed class AccessRulesSection(AccessPolicy policy, NodeSettings settings) : IRuntimePolicySection
{
    public string Name => RuntimePolicy.AccessRulesSection;

    public IReadOnlyList<string> Current => policy.Current.Lines;

    public string? Validate(IReadOnlyList<string> lines)
    {
        if (AccessRuleSet.Compile(lines, 0, settings.Policy.RuntimeResolvePath, out var errors) is not null) return null;
        return string.Join("; ", errors.Select(LineNumbered));
    }

    public void Apply(IReadOnlyList<string> lines)
    {
        var errors = policy.Replace(lines);
        if (errors.Count > 0) throw new ArgumentException("access rules not applied: " + string.Join("; ", errors.Select(LineNumbered)));
    }

    public void Reload(IReadOnlyList<string> lines, bool fromConfiguration)
    {
        var errors = policy.Replace(lines, fromConfiguration);
        if (errors.Count > 0) throw new ArgumentException("access rules not reloaded: " + string.Join("; ", errors.Select(LineNumbered)));
    }

    // Compile reports "index: sentence" (0-based); people count lines from 1.
    private static string LineNumbered(string error)
    {
        int colon = error.IndexOf(':');
        return colon > 0 && int.TryParse(error.AsSpan(0, colon), out var index) ? $"line {index + 1}:{error[(colon + 1)..]}" : error;
    }
}
