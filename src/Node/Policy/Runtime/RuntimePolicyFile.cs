using System.Text.Json;
using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Policy.Runtime;

/// <summary>
/// The runtime policy kept in the node's data folder (runtime-policy.json), written whole (temporary file, then
/// rename) on every change. Every node keeps its own copy, so a whole-cluster restart keeps the policy without a
/// database; a node with an empty data folder takes it from the others when it joins (PolicySync).
/// </summary>
public sealed class RuntimePolicyFile(string directory, ILogger? logger)
{
    public const string FileName = "runtime-policy.json";

    /// <summary>What was set at run time: the sections listed, the others follow the configuration.</summary>
    public sealed record Saved(long Version, string[] Sections, string[]? RefreshRules, string[]? AccessRules);

    private string PathName => Path.Combine(directory, FileName);

    public Saved? Load()
    {
        if (!File.Exists(PathName)) return null;
        try
        {
            var saved = JsonSerializer.Deserialize<Saved>(File.ReadAllBytes(PathName));
            return saved is { Sections: not null } ? saved : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            logger?.LogWarning("The saved runtime policy {Path} cannot be read ({Error}); the configuration's rules are used", PathName, ex.Message);
            return null;
        }
    }

    public void Save(PolicySnapshot policy, IReadOnlySet<string> sections)
    {
        var saved = new Saved(policy.Version, [.. sections],
            sections.Contains(RuntimePolicy.RefreshRulesSection) ? policy.RefreshRules : null,
            sections.Contains(RuntimePolicy.AccessRulesSection) ? policy.AccessRules : null);
        try
        {
            Directory.CreateDirectory(directory);
            var temporary = PathName + ".tmp";
            File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(saved, new JsonSerializerOptions { WriteIndented = true }));
            File.Move(temporary, PathName, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The change is in force; only its survival of a restart is lost, which the operator should know.
            logger?.LogError("The runtime policy version {Version} is in force but could not be saved to {Path}: {Error}", policy.Version, PathName, ex.Message);
        }
    }
}
