using YamlDotNet.RepresentationModel;

namespace CacheCluster.Chart.Tests.Support;

/// <summary>The documents helm rendered, parsed as YAML, with small helpers to walk them.</summary>
public sealed class Manifests(List<YamlMappingNode> documents)
{
    public IReadOnlyList<YamlMappingNode> Documents => documents;

    public static Manifests Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return new Manifests([.. stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>()]);
    }

    public IEnumerable<YamlMappingNode> OfKind(string kind) => documents.Where(d => d.Str("kind") == kind);

    public YamlMappingNode Single(string kind, string? name = null)
    {
        var matches = OfKind(kind).Where(d => name is null || d.Path("metadata").Str("name") == name).ToList();
        Assert.True(matches.Count == 1, $"expected one {kind}{(name is null ? "" : " " + name)}, found {matches.Count}");
        return matches[0];
    }

    /// <summary>The node StatefulSet (the one labelled component=node).</summary>
    public YamlMappingNode NodeStatefulSet => OfKind("StatefulSet").Single(s =>
        s.Path("spec", "template", "metadata", "labels").Str("app.kubernetes.io/component") == "node");

    public YamlMappingNode NodeContainer => NodeStatefulSet.Path("spec", "template", "spec").Seq("containers").Cast<YamlMappingNode>().Single(c => c.Str("name") == "node");
}

public static class YamlExtensions
{
    public static YamlMappingNode Path(this YamlMappingNode node, params string[] keys)
    {
        foreach (var k in keys)
        {
            Assert.True(node.Children.TryGetValue(new YamlScalarNode(k), out var child) && child is YamlMappingNode,
                $"missing mapping '{k}' in:\n{node}");
            node = (YamlMappingNode)child!;
        }
        return node;
    }

    public static string? Str(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlScalarNode s ? s.Value : null;

    public static bool Has(this YamlMappingNode node, string key) => node.Children.ContainsKey(new YamlScalarNode(key));

    public static YamlSequenceNode Seq(this YamlMappingNode node, string key)
    {
        Assert.True(node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlSequenceNode, $"missing list '{key}' in:\n{node}");
        return (YamlSequenceNode)node.Children[new YamlScalarNode(key)];
    }

    public static IEnumerable<YamlMappingNode> Maps(this YamlMappingNode node, string key) =>
        node.Has(key) ? node.Seq(key).Cast<YamlMappingNode>() : [];

    public static Dictionary<string, string> ScalarMap(this YamlMappingNode node) =>
        node.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => ((YamlScalarNode)kv.Value).Value ?? "");
}
