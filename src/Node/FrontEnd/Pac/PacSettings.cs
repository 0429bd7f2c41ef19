using System.Globalization;
using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.FrontEnd.Pac;

/// <summary>
/// What the generated proxy auto-config script (/proxy.pac, /wpad.dat) tells browsers: which proxies to use
/// and which hosts to reach directly. Read by NodeSettings; errors name their key.
/// </summary>
public sealed class PacSettings
{
    public static readonly string[] Keys = ["Enabled", "Proxies", "BypassDomains", "BypassNetworks", "BypassPlainHostNames", "ResolveNames", "DirectFallback", "MaxAge"];

    public bool Enabled { get; init; } = true;
    /// <summary>host:port entries (or "HTTPS host:port") in the order clients try them; empty: the host and port the client fetched the script from.</summary>
    public IReadOnlyList<string> Proxies { get; init; } = [];
    /// <summary>Domains reached directly: "example.org" matches it and its subdomains.</summary>
    public IReadOnlyList<string> BypassDomains { get; init; } = [];
    /// <summary>IPv4 networks reached directly (PAC's isInNet knows IPv4 only).</summary>
    public IReadOnlyList<IPNetwork> BypassNetworks { get; init; } = [];
    public bool BypassPlainHostNames { get; init; } = true;
    /// <summary>Resolve host names in the browser (dnsResolve) to test them against BypassNetworks; costs a lookup per URL.</summary>
    public bool ResolveNames { get; init; }
    /// <summary>Append DIRECT after the proxies so browsers go direct when every proxy is down.</summary>
    public bool DirectFallback { get; init; } = true;
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Reads the Pac section; each problem is reported with its key.</summary>
    internal static PacSettings Read(SettingsReader r)
    {
        r.RejectUnknown("Pac", Keys);
        var config = r.Config;
        Action<string, string> error = r.Error;
        const string s = "Pac:";
        var proxies = new List<string>();
        foreach (var entry in List(config, s + "Proxies"))
        {
            // host:port, a host name or an IP address; what the browser connects to. https://host:port: the HTTPS
            // proxy listener (PAC "HTTPS host:port"); http://host:port is the same as host:port.
            bool tls = entry.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            var item = tls ? entry["https://".Length..].TrimEnd('/')
                : entry.StartsWith("http://", StringComparison.OrdinalIgnoreCase) ? entry["http://".Length..].TrimEnd('/') : entry;
            var colon = item.LastIndexOf(':');
            var host = colon > 0 ? item[..colon] : "";
            if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
            if (colon <= 0 || !int.TryParse(item.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                || port is < 1 or > 65535 || Uri.CheckHostName(host) == UriHostNameType.Unknown)
                error(s + "Proxies", $"'{entry}' is not host:port (examples: proxy.campus.example:3128, 10.0.0.5:3128, https://proxy.campus.example:3130)");
            else proxies.Add(tls ? "HTTPS " + item : item);
        }
        var domains = new List<string>();
        foreach (var item in List(config, s + "BypassDomains"))
        {
            var d = item.TrimStart('*').TrimStart('.').ToLowerInvariant();
            if (d.Length == 0 || Uri.CheckHostName(d) != UriHostNameType.Dns)
                error(s + "BypassDomains", $"'{item}' is not a domain name (examples: campus.example, .internal.example)");
            else domains.Add(d);
        }
        var networks = new List<IPNetwork>();
        foreach (var item in List(config, s + "BypassNetworks"))
        {
            if (!IPNetwork.TryParse(item, out var net))
                error(s + "BypassNetworks", $"'{item}' is not a network in CIDR form (example: 10.0.0.0/8)");
            else if (net.BaseAddress.AddressFamily != AddressFamily.InterNetwork)
                error(s + "BypassNetworks", $"'{item}': PAC scripts can only test IPv4 networks (isInNet)");
            else networks.Add(net);
        }
        return new PacSettings
        {
            Enabled = Bool(config, s + "Enabled", true, error),
            Proxies = proxies,
            BypassDomains = domains,
            BypassNetworks = networks,
            BypassPlainHostNames = Bool(config, s + "BypassPlainHostNames", true, error),
            ResolveNames = Bool(config, s + "ResolveNames", false, error),
            DirectFallback = Bool(config, s + "DirectFallback", true, error),
            MaxAge = Seconds(config, s + "MaxAge", TimeSpan.FromMinutes(5), error),
        };
    }

    /// <summary>One comma-separated value or array children (Key:0, Key:1, …), like the other list settings.</summary>
    internal static IEnumerable<string> List(IConfiguration config, string key)
    {
        var section = config.GetSection(key);
        if (section.Value is { } single)
            return single.Split([',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return section.GetChildren().Select(c => c.Value?.Trim()).Where(v => !string.IsNullOrEmpty(v)).Select(v => v!);
    }

    internal static bool Bool(IConfiguration config, string key, bool fallback, Action<string, string> error)
    {
        var v = config[key];
        if (v is null) return fallback;
        if (bool.TryParse(v.Trim(), out var b)) return b;
        error(key, $"'{v}' must be true or false");
        return fallback;
    }

    private static TimeSpan Seconds(IConfiguration config, string key, TimeSpan fallback, Action<string, string> error)
    {
        var v = config[key];
        if (v is null) return fallback;
        if (SettingsReader.TryDuration(v, out var d) && d >= TimeSpan.Zero) return d;
        error(key, $"'{v}' is not a duration (examples: 0s, 5m, 1h)");
        return fallback;
    }
}
