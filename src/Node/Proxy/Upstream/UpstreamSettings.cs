using System.Globalization;
using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.FrontEnd.Pac;

namespace CacheCluster.Node.Proxy.Upstream;

/// <summary>
/// Parent proxies (Squid's cache_peer parent): misses are fetched through another site's cluster instead of
/// from the origin. Read by NodeSettings; errors name their key.
/// </summary>
public sealed class UpstreamSettings
{
    public static readonly string[] Keys = ["Parents", "AlwaysDirect", "DirectFallback", "HealthCheckInterval"];

    /// <summary>Parent proxies; each URL goes to the one CARP-style hashing ranks first among those up.</summary>
    public IReadOnlyList<ParentProxy> Parents { get; init; } = [];
    /// <summary>Domains ("example.org" covers its subdomains) fetched from the origin, never through a parent.</summary>
    public IReadOnlyList<string> AlwaysDirectDomains { get; init; } = [];
    /// <summary>IP networks whose literal addresses are fetched directly.</summary>
    public IReadOnlyList<IPNetwork> AlwaysDirectNetworks { get; init; } = [];
    /// <summary>Fetch from the origin when no parent can be reached (false: 502).</summary>
    public bool DirectFallback { get; init; } = true;
    /// <summary>How often parents are probed (a TCP connect); a parent found down is skipped until a probe succeeds.</summary>
    public TimeSpan HealthCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    internal static UpstreamSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Upstream", Keys);
        var config = r.Config;
        Action<string, string> error = r.Error;
        const string s = "Upstream:";
        var parents = new List<ParentProxy>();
        foreach (var item in PacSettings.List(config, s + "Parents"))
        {
            var colon = item.LastIndexOf(':');
            var host = colon > 0 ? item[..colon].Trim('[', ']') : "";
            if (colon <= 0 || !int.TryParse(item.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                || port is < 1 or > 65535 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
                error(s + "Parents", $"'{item}' is not host:port (examples: proxy.site-b.example:3128, 10.1.0.5:3128)");
            else if (parents.Any(p => p.Name.Equals(item, StringComparison.OrdinalIgnoreCase)))
                error(s + "Parents", $"'{item}' is listed twice");
            else parents.Add(new ParentProxy(item.ToLowerInvariant(), host, port));
        }
        var domains = new List<string>();
        var networks = new List<IPNetwork>();
        foreach (var item in PacSettings.List(config, s + "AlwaysDirect"))
        {
            if (item.Contains('/') && IPNetwork.TryParse(item, out var net)) { networks.Add(net); continue; }
            var d = item.TrimStart('*').TrimStart('.').ToLowerInvariant();
            if (d.Length == 0 || Uri.CheckHostName(d) == UriHostNameType.Unknown)
                error(s + "AlwaysDirect", $"'{item}' is neither a domain nor a network (examples: campus.example, 10.0.0.0/8)");
            else domains.Add(d);
        }
        var interval = TimeSpan.FromSeconds(5);
        if (config[s + "HealthCheckInterval"] is { } iv)
        {
            if (SettingsReader.TryDuration(iv, out var d) && d > TimeSpan.Zero) interval = d;
            else error(s + "HealthCheckInterval", $"'{iv}' is not a duration greater than zero (examples: 5s, 1m)");
        }
        return new UpstreamSettings
        {
            Parents = parents,
            AlwaysDirectDomains = domains,
            AlwaysDirectNetworks = networks,
            DirectFallback = PacSettings.Bool(config, s + "DirectFallback", true, error),
            HealthCheckInterval = interval,
        };
    }
}

/// <summary>One parent proxy: Name is "host:port" as configured (also its identity in the hash).</summary>
public sealed record ParentProxy(string Name, string Host, int Port)
{
    internal ulong Hash { get; } = System.IO.Hashing.XxHash64.HashToUInt64(System.Text.Encoding.UTF8.GetBytes(Name));
}
