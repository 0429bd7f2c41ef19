using CacheCluster.Node.Configuration;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests.Support;

/// <summary>
/// What a node pod of the rendered chart would see: its environment (ConfigMap via envFrom, literal env, the
/// downward API filled with sample values) and the files its Secret volumes provide. Load() feeds that to the
/// node's own NodeSettings.Load, so a key, value or file path the node would refuse fails the test.
/// </summary>
public sealed class RenderedNode
{
    /// <summary>Keys the management engineer's part adds (Management:Listen/Token/TokenFile): not in NodeSettings on this branch yet.</summary>
    /// <summary>Sections the node reads; NodeSettings rejects unknown keys only inside sections it knows.</summary>
    public static readonly string[] KnownSections =
        ["Node", "Proxy", "Cache", "Store", "Cluster", "Pac", "Upstream", "Management", "AccessLog", "Access", "Auth", "Privacy", "Guard", "Resolver", "Limits", "Logging"];

    public const string SamplePodName = "site-a-cachecluster-0";
    public const string SamplePodIp = "10.1.2.3";

    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);

    public static RenderedNode From(Manifests m, IDictionary<string, string>? existingSecrets = null)
    {
        var node = new RenderedNode();
        var container = m.NodeContainer;
        foreach (var from in container.Maps("envFrom"))
        {
            var name = from.Path("configMapRef").Str("name");
            foreach (var (k, v) in m.Single("ConfigMap", name).Path("data").ScalarMap()) node.Env[k] = v;
        }
        foreach (var e in container.Maps("env"))
        {
            var name = e.Str("name")!;
            if (e.Str("value") is { } value) { node.Env[name] = value; continue; }
            var field = e.Path("valueFrom", "fieldRef").Str("fieldPath");
            node.Env[name] = field switch
            {
                "metadata.name" => SamplePodName,
                "status.podIP" => SamplePodIp,
                _ => throw new InvalidOperationException($"env {name}: unexpected fieldRef {field}"),
            };
        }
        var volumes = m.NodeStatefulSet.Path("spec", "template", "spec").Maps("volumes").ToDictionary(v => v.Str("name")!);
        foreach (var mount in container.Maps("volumeMounts"))
        {
            if (!volumes.TryGetValue(mount.Str("name")!, out var volume) || !volume.Has("secret")) continue;
            var secretName = volume.Path("secret").Str("secretName")!;
            var rendered = m.OfKind("Secret").FirstOrDefault(s => s.Path("metadata").Str("name") == secretName);
            foreach (var item in volume.Path("secret").Maps("items"))
            {
                var key = item.Str("key")!;
                string content;
                if (rendered is not null)
                {
                    var data = rendered.Path("stringData").ScalarMap();
                    Assert.True(data.TryGetValue(key, out content!), $"Secret {secretName} has no key '{key}' that volume {mount.Str("name")} mounts");
                }
                else
                {
                    Assert.True(existingSecrets?.TryGetValue($"{secretName}/{key}", out content!) == true, $"the pod mounts {secretName}/{key}, which the chart does not render");
                    content = existingSecrets![$"{secretName}/{key}"];
                }
                node.Files[$"{mount.Str("mountPath")!.TrimEnd('/')}/{item.Str("path")}"] = content;
            }
        }
        return node;
    }

    /// <summary>The settings as the node would load them (validated by the node's own code); Management:* keys also returned apart.</summary>
    public NodeSettings Load(out Dictionary<string, string> management)
    {
        management = new(StringComparer.OrdinalIgnoreCase);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var dir = Directory.CreateTempSubdirectory("chart-node-").FullName;
        foreach (var (name, value) in Env)
        {
            // ASP.NET's environment form: Section__Key is Section:Key.
            Assert.True(name.Contains("__"), $"environment variable '{name}' is not in Section__Key form");
            var key = name.Replace("__", ":");
            var section = key.Split(':')[0];
            Assert.True(KnownSections.Contains(section), $"'{name}': the node has no '{section}' section (known: {string.Join(", ", KnownSections)})");
            var v = value;
            // Cluster:Tls:*Path name PEM files the same way (a mounted Secret).
            if (key.EndsWith("File", StringComparison.Ordinal) || (key.StartsWith("Cluster:Tls:", StringComparison.Ordinal) && key.EndsWith("Path", StringComparison.Ordinal)))
            {
                // A file setting must point at a file a volume provides; the test writes it where the node can read it.
                Assert.True(Files.TryGetValue(value, out var content), $"{key}={value}, but no volume mounts a file there (mounted: {string.Join(", ", Files.Keys)})");
                v = Path.Combine(dir, Path.GetFileName(value));
                File.WriteAllText(v, content);
            }
            if (section == "Management")
            {
                management[key["Management:".Length..]] = v;
            }
            values[key] = v;
        }
        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return NodeSettings.Load(config, dir);
    }
}
