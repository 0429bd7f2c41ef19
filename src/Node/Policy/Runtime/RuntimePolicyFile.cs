using System.Text.Json;
using System.Text.Json.Serialization;
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
            var saved = JsonSerializer.Deserialize(File.ReadAllBytes(PathName), SavedJson.Default.Saved);
            return saved is { Sections: not null } ? saved : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            logger?.LogWarning("The saved runtime policy {Path} cannot be read ({Error}); the configuration's rules are used", PathName, ex.Message);
            return null;
        }
    }

    /// <summary>Writes the file whole and flushes it to the disk before it replaces the old one.</summary>
    public async Task SaveAsync(PolicySnapshot policy, IReadOnlyCollection<string> sections)
    {
        var saved = new Saved(policy.Version, [.. sections],
            sections.Contains(RuntimePolicy.RefreshRulesSection) ? policy.RefreshRules : null,
            sections.Contains(RuntimePolicy.AccessRulesSection) ? policy.AccessRules : null);
        try
        {
            Directory.CreateDirectory(directory);
            var temporary = PathName + ".tmp";
            await using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await file.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(saved, SavedJson.Default.Saved));
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, PathName, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The change is in force; only its survival of a restart is lost, which the operator should know.
            logger?.LogError("The runtime policy version {Version} is in force but could not be saved to {Path}: {Error}", policy.Version, PathName, ex.Message);
        }
    }
}

/// <summary>The file's JSON, generated at build time (no reflection start-up on the first save).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(RuntimePolicyFile.Saved))]
internal sealed partial class SavedJson : JsonSerializerContext;
