using System.Text.RegularExpressions;
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
    /// <summary>Sections the node reads; NodeSettings rejects unknown keys only inside sections it knows.</summary>
    public static readonly string[] KnownSections =
        ["Node", "Proxy", "Cache", "Store", "Cluster", "Pac", "Upstream", "Management", "AccessLog", "Access", "Auth", "Privacy", "Guard", "Resolver", "Limits", "Logging"];

    public const string SamplePodName = "site-a-cachecluster-0";
    public const string SamplePodIp = "10.1.2.3";

    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Files { get; } = new(StringComparer.Ordinal);
    /// <summary>Where Secret and ConfigMap volumes are mounted in the pod.</summary>
    public List<string> MountDirectories { get; } = [];
    /// <summary>After Load: the folder standing in for the pod's file system root (a pod path P is Root + P).</summary>
    public string Root { get; private set; } = "";
    /// <summary>After Load: the settings as fed to the node (Section:Key, file paths under <see cref="Root"/>).</summary>
    public Dictionary<string, string?> Loaded { get; private set; } = [];

    /// <param name="existing">Contents of Secrets and ConfigMaps the chart mounts but does not render, as "name/key".</param>
    public static RenderedNode From(Manifests m, IDictionary<string, string>? existing = null)
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
            if (!volumes.TryGetValue(mount.Str("name")!, out var volume)) continue;
            // Secret and ConfigMap volumes hold files the node reads; anything else (PVC, emptyDir, extraVolumes) is not content.
            var (kind, source, nameKey, dataKey) = volume.Has("secret") ? ("Secret", volume.Path("secret"), "secretName", "stringData")
                : volume.Has("configMap") ? ("ConfigMap", volume.Path("configMap"), "name", "data") : default;
            if (kind is null) continue;
            var objectName = source.Str(nameKey)!;
            var rendered = m.OfKind(kind).FirstOrDefault(s => s.Path("metadata").Str("name") == objectName);
            Dictionary<string, string> data;
            if (rendered is not null) data = rendered.Path(dataKey).ScalarMap();
            else
            {
                data = (existing ?? new Dictionary<string, string>()).Where(kv => kv.Key.StartsWith(objectName + "/", StringComparison.Ordinal))
                    .ToDictionary(kv => kv.Key[(objectName.Length + 1)..], kv => kv.Value);
                Assert.True(data.Count > 0, $"the pod mounts {kind} {objectName}, which the chart does not render");
            }
            var mountPath = mount.Str("mountPath")!.TrimEnd('/');
            node.MountDirectories.Add(mountPath);
            var items = source.Maps("items").Select(i => (Key: i.Str("key")!, FileName: i.Str("path")!)).ToList();
            if (items.Count == 0) items = [.. data.Keys.Select(k => (k, k))]; // no items: every key is a file
            foreach (var (key, fileName) in items)
            {
                Assert.True(data.TryGetValue(key, out var content), $"{kind} {objectName} has no key '{key}' that volume {mount.Str("name")} mounts");
                node.Files[$"{mountPath}/{fileName}"] = content!;
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
        Root = dir;
        // Every mounted file is written where the pod would see it, under the temporary root.
        foreach (var (podPath, content) in Files)
        {
            var local = dir + podPath;
            Directory.CreateDirectory(Path.GetDirectoryName(local)!);
            File.WriteAllText(local, content);
        }
        var mounts = MountDirectories.OrderByDescending(d => d.Length).ToList();
        foreach (var (name, value) in Env)
        {
            // ASP.NET's environment form: Section__Key is Section:Key.
            Assert.True(name.Contains("__"), $"environment variable '{name}' is not in Section__Key form");
            var key = name.Replace("__", ":");
            var section = key.Split(':')[0];
            Assert.True(KnownSections.Contains(section), $"'{name}': the node has no '{section}' section (known: {string.Join(", ", KnownSections)})");
            var v = value;
            // *File settings and the TLS *Path settings name PEM or text files (a mounted Secret).
            bool fileSetting = key.EndsWith("File", StringComparison.Ordinal)
                || ((key.StartsWith("Cluster:Tls:", StringComparison.Ordinal) || key.StartsWith("Management:Tls:", StringComparison.Ordinal)) && key.EndsWith("Path", StringComparison.Ordinal));
            if (fileSetting)
            {
                // A file setting must point at a file a volume provides.
                Assert.True(Files.ContainsKey(value), $"{key}={value}, but no volume mounts a file there (mounted: {string.Join(", ", Files.Keys)})");
                v = dir + value;
            }
            else
            {
                // Paths inside other values (dstdomain="file" in a rule, Access:ListDirectory) move under the root too.
                foreach (var m in mounts)
                    v = Regex.Replace(v, $@"(?<![\w/]){Regex.Escape(m)}(?=/|$|[\s,])", _ => dir + m);
            }
            if (section == "Management")
            {
                management[key["Management:".Length..]] = v;
            }
            values[key] = v;
        }
        Loaded = values;
        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return NodeSettings.Load(config, dir);
    }
}
