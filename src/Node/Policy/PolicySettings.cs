using System.Net;
using System.Net.Sockets;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy.Guard;

namespace CacheCluster.Node.Policy;

public enum ForwardedForMode { On, Off, Delete, Truncate }

/// <summary>
/// Settings of the policy and hardening work: sections Access, Auth, Privacy, Limits, Guard, Resolver.
/// Read with NodeSettings' Reader, so errors name their key and unknown keys are rejected.
/// </summary>
public sealed class PolicySettings
{
    public IReadOnlyList<string> AccessRules { get; init; } = AccessRuleSet.DefaultLines;
    /// <summary>Access:PurgeFrom: the client networks whose HTTP PURGE is carried out (after the access rules admitted them).</summary>
    public IReadOnlyList<IPNetwork> PurgeFrom { get; init; } = DefaultPurgeFrom;
    public static readonly IReadOnlyList<IPNetwork> DefaultPurgeFrom = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")];
    public AuthSettings Auth { get; init; } = new();
    public PrivacySettings Privacy { get; init; } = new();
    public LimitSettings Limits { get; init; } = new();
    public GuardSettings Guard { get; init; } = new();
    /// <summary>Resolves relative list/htpasswd paths of the configuration (against the content root), anywhere.</summary>
    public Func<string, string> ResolvePath { get; init; } = p => Path.GetFullPath(p);
    /// <summary>Access:ListDirectory, links resolved: the only folder rules set at run time may read list files from.</summary>
    public string? ListDirectory { get; init; }
    /// <summary>Resolves list files of rules set at run time: only inside <see cref="ListDirectory"/> (throws <see cref="ListFileRefusedException"/>).</summary>
    public Func<string, string> RuntimeResolvePath => name => ListFiles.ResolveUnder(ListDirectory, name);

    internal static PolicySettings Read(SettingsReader r)
    {
        var config = r.Config;
        var contentRoot = r.ContentRoot;
        r.RejectUnknown("Access", "Rules", "ListDirectory", "PurgeFrom");
        r.RejectUnknown("Auth", "HtpasswdFile", "Realm", "Required", "Groups");
        r.RejectUnknown("Privacy", "Via", "XForwardedFor", "StripRequestHeaders");
        r.RejectUnknown("Limits", "ClientRequestsPerSecond", "ClientBurst", "UserRequestsPerSecond", "UserBurst",
            "ClientConnections", "UserConcurrentRequests", "MaxRequestLineSize", "MaxRequestHeadersSize", "MaxRequestHeaderCount",
            "MaxRequestBodySize", "RequestHeadersTimeout", "KeepAliveTimeout", "MinRequestBodyRate", "MinResponseRate", "ClientBandwidth");
        r.RejectUnknown("Guard", "AllowLoopback", "AllowPrivate", "DenyNetworks", "AllowNetworks");
        r.RejectUnknown("Resolver", "HostsFile");

        Func<string, string> resolve = p => Path.GetFullPath(p, contentRoot);

        // Access:Rules: an array (Access__Rules__0 …) or one value with one rule per line.
        var section = config.GetSection("Access:Rules");
        var lines = section.Value is { } single
            ? [.. single.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]
            : section.GetChildren().Select(c => c.Value ?? "").ToList();
        IReadOnlyList<string> accessRules = lines.Any(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')) ? lines : AccessRuleSet.DefaultLines;
        if (AccessRuleSet.Compile(accessRules, 1, resolve, out var ruleErrors) is null)
            foreach (var e in ruleErrors)
            {
                int colon = e.IndexOf(':');
                r.Error(ReferenceEquals(accessRules, lines) ? $"Access:Rules:{e[..colon]}" : "Access:Rules", e[(colon + 1)..].Trim());
            }

        // Access:ListDirectory: the folder runtime rules (management API) may read list files from; none: inline lists only.
        string? listDirectory = null;
        if (config["Access:ListDirectory"] is { Length: > 0 } dir)
        {
            var full = resolve(dir);
            if (!Directory.Exists(full)) r.Error("Access:ListDirectory", $"'{full}' is not an existing folder");
            else listDirectory = ListFiles.RealPath(full) ?? full;
        }

        // Access:PurgeFrom: who may purge over HTTP; unset: loopback only; "none" (or empty): nobody.
        var purgeFrom = config.GetSection("Access:PurgeFrom") is { } pf && (pf.Value is not null || pf.GetChildren().Any())
            ? (r.List("Access:PurgeFrom") is [var only] && only.Equals("none", StringComparison.OrdinalIgnoreCase) ? [] : Networks(r, config, "Access:PurgeFrom"))
            : DefaultPurgeFrom;

        var groups = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var g in config.GetSection("Auth:Groups").GetChildren())
            groups[g.Key] = [.. (g.Value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        var htpasswd = config["Auth:HtpasswdFile"] is { } hp ? r.String("Auth:HtpasswdFile", "") : null;
        if (htpasswd is { Length: > 0 })
        {
            htpasswd = resolve(htpasswd);
            if (!File.Exists(htpasswd)) r.Error("Auth:HtpasswdFile", $"'{htpasswd}' does not exist (create it with: htpasswd -B -c {htpasswd} USER)");
        }
        var auth = new AuthSettings
        {
            HtpasswdFile = htpasswd is { Length: > 0 } ? htpasswd : null,
            Realm = r.String("Auth:Realm", "CacheCluster proxy").Replace("\"", "'"),
            Required = r.Bool("Auth:Required", true),
            Groups = groups,
        };
        var privacy = new PrivacySettings
        {
            Via = r.Bool("Privacy:Via", true),
            XForwardedFor = r.Enum("Privacy:XForwardedFor", ForwardedForMode.On),
            StripRequestHeaders = r.List("Privacy:StripRequestHeaders") ?? [],
        };
        foreach (var h in privacy.StripRequestHeaders)
            if (h.Any(c => c <= ' ' || c >= 127 || c == ':')) r.Error("Privacy:StripRequestHeaders", $"'{h}' is not a header name");
        var limits = new LimitSettings
        {
            ClientRequestsPerSecond = r.Count("Limits:ClientRequestsPerSecond", 0, 0, 1_000_000),
            ClientBurst = r.Count("Limits:ClientBurst", 0, 0, 10_000_000),
            UserRequestsPerSecond = r.Count("Limits:UserRequestsPerSecond", 0, 0, 1_000_000),
            UserBurst = r.Count("Limits:UserBurst", 0, 0, 10_000_000),
            ClientConnections = r.Count("Limits:ClientConnections", 1000, 0, 1_000_000),
            UserConcurrentRequests = r.Count("Limits:UserConcurrentRequests", 0, 0, 1_000_000),
            MaxRequestLineBytes = (int)r.Size("Limits:MaxRequestLineSize", 8 << 10, min: 256),
            MaxRequestHeadersBytes = (int)r.Size("Limits:MaxRequestHeadersSize", 32 << 10, min: 1024),
            MaxRequestHeaderCount = r.Count("Limits:MaxRequestHeaderCount", 100, 1, 10_000),
            MaxRequestBodyBytes = config["Limits:MaxRequestBodySize"] is null ? null : r.Size("Limits:MaxRequestBodySize", 0, min: 1),
            RequestHeadersTimeout = r.Duration("Limits:RequestHeadersTimeout", TimeSpan.FromSeconds(30)),
            KeepAliveTimeout = r.Duration("Limits:KeepAliveTimeout", TimeSpan.FromSeconds(130)),
            MinRequestBodyBytesPerSecond = r.Count("Limits:MinRequestBodyRate", 240, 0, 100_000_000),
            MinResponseBytesPerSecond = r.Count("Limits:MinResponseRate", 1024, 0, 100_000_000),
            ClientBandwidthBytesPerSecond = config["Limits:ClientBandwidth"] is null ? 0 : r.Size("Limits:ClientBandwidth", 0, min: 1024),
        };
        if (limits.MaxRequestLineBytes > limits.MaxRequestHeadersBytes)
            r.Error("Limits:MaxRequestLineSize", "must not exceed Limits:MaxRequestHeadersSize");
        var guard = new GuardSettings
        {
            Loopback = LoopbackSetting(r, config), // who may reach the host's loopback (src/Node/Policy/Guard/LoopbackAccess.cs)
            AllowPrivate = r.Bool("Guard:AllowPrivate", true),
            DenyNetworks = Networks(r, config, "Guard:DenyNetworks"),
            AllowNetworks = Networks(r, config, "Guard:AllowNetworks"),
            HostsFile = config["Resolver:HostsFile"] is null ? null : resolve(r.String("Resolver:HostsFile", "")),
        };
        if (guard.HostsFile is not null && !File.Exists(guard.HostsFile))
            r.Error("Resolver:HostsFile", $"'{guard.HostsFile}' does not exist");
        return new PolicySettings { AccessRules = accessRules, Auth = auth, Privacy = privacy, Limits = limits, Guard = guard, ResolvePath = resolve,
            ListDirectory = listDirectory, PurgeFrom = purgeFrom };
    }

    private static LoopbackAccess LoopbackSetting(SettingsReader r, IConfiguration config)
    {
        var v = config["Guard:AllowLoopback"];
        if (v is null) return LoopbackAccess.LocalClients;
        if (ClientLocality.TryParse(v, out var access)) return access;
        r.Error("Guard:AllowLoopback", $"'{v}' is not one of LocalClients (only clients on loopback), All (true), None (false)");
        return LoopbackAccess.LocalClients;
    }

    private static IReadOnlyList<IPNetwork> Networks(SettingsReader r, IConfiguration config, string key)
    {
        var result = new List<IPNetwork>();
        foreach (var item in r.List(key) ?? [])
        {
            if (IPNetwork.TryParse(item, out var n)) result.Add(n);
            else if (IPAddress.TryParse(item, out var a)) result.Add(new IPNetwork(a, a.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            else r.Error(key, $"'{item}' is not an address or CIDR network (examples: 10.1.2.0/24, fd00::/8)");
        }
        return result;
    }
}

public sealed class AuthSettings
{
    /// <summary>htpasswd file with bcrypt hashes (htpasswd -B); null: no proxy authentication.</summary>
    public string? HtpasswdFile { get; init; }
    public string Realm { get; init; } = "CacheCluster proxy";
    /// <summary>Every request must authenticate (else only rules naming users/groups ask for credentials).</summary>
    public bool Required { get; init; } = true;
    public IReadOnlyDictionary<string, HashSet<string>> Groups { get; init; } = new Dictionary<string, HashSet<string>>();
}

public sealed class PrivacySettings
{
    public bool Via { get; init; } = true;
    public ForwardedForMode XForwardedFor { get; init; } = ForwardedForMode.On;
    public IReadOnlyList<string> StripRequestHeaders { get; init; } = [];
}

public sealed class LimitSettings
{
    /// <summary>Requests per second per client address (token bucket); 0: unlimited.</summary>
    public int ClientRequestsPerSecond { get; init; }
    public int ClientBurst { get; init; }
    public int UserRequestsPerSecond { get; init; }
    public int UserBurst { get; init; }
    /// <summary>Open connections per client address; 0: unlimited.</summary>
    public int ClientConnections { get; init; } = 1000;
    public int UserConcurrentRequests { get; init; }
    public int MaxRequestLineBytes { get; init; } = 8 << 10;
    public int MaxRequestHeadersBytes { get; init; } = 32 << 10;
    public int MaxRequestHeaderCount { get; init; } = 100;
    /// <summary>null: unlimited.</summary>
    public long? MaxRequestBodyBytes { get; init; }
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(130);
    public int MinRequestBodyBytesPerSecond { get; init; } = 240;
    /// <summary>A client that reads a response slower than this (after a 5 s grace) is dropped; 0: never. Kestrel
    /// allows each write size/rate seconds, so a client that stops reading a 64 KiB chunk goes after about 70 s.</summary>
    public int MinResponseBytesPerSecond { get; init; } = 1024;
    /// <summary>Bytes per second to each client address (all its connections together); 0: unlimited.</summary>
    public long ClientBandwidthBytesPerSecond { get; init; }
}

public sealed class GuardSettings
{
    public LoopbackAccess Loopback { get; init; } = LoopbackAccess.LocalClients;
    public bool AllowPrivate { get; init; } = true;
    public IReadOnlyList<IPNetwork> DenyNetworks { get; init; } = [];
    public IReadOnlyList<IPNetwork> AllowNetworks { get; init; } = [];
    public string? HostsFile { get; init; }
}
