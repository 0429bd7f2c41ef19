using CacheCluster.Node.Tests.Proxy;
namespace CacheCluster.Node.Tests.Support;

/// <summary>PURGE requests sent with curl, as a CMS plugin or an operator would.</summary>
public static class PurgeCurl
{
    public sealed record Reply(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>Forward-proxy form: <c>PURGE http://origin/path HTTP/1.1</c> through the node.</summary>
    public static Task<Reply> ViaProxyAsync(TestNode node, Uri url, params (string Name, string Value)[] headers) =>
        RunAsync(["-x", node.ProxyUri.ToString(), url.ToString()], headers);

    /// <summary>Reverse-proxy (accelerator) form: <c>PURGE /path</c> with a Host the node has under Proxy:Sites.</summary>
    public static Task<Reply> ReverseAsync(TestNode node, string host, string pathAndQuery, params (string Name, string Value)[] headers) =>
        RunAsync([$"http://127.0.0.1:{node.ProxyPort}{pathAndQuery}"], [("Host", host), .. headers]);

    private static async Task<Reply> RunAsync(string[] target, (string Name, string Value)[] headers)
    {
        var args = new List<string> { "-s", "-g", "-i", "--max-time", "60", "-X", "PURGE" };
        foreach (var (n, v) in headers) { args.Add("-H"); args.Add($"{n}: {v}"); }
        args.AddRange(target);
        var output = await Curl.RunAsync([.. args]);
        int split = output.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no response head in: {output}");
        var lines = output[..split].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var dict = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var l in lines.Skip(1))
        {
            int colon = l.IndexOf(':');
            if (colon > 0) dict[l[..colon].Trim()] = l[(colon + 1)..].Trim();
        }
        return new Reply(status, dict, output[(split + 4)..]);
    }
}
