using System.Globalization;
using System.Net;

namespace CacheCluster.Node.Configuration;

public enum ClusteringMode { Localhost, AdoNet }

/// <summary>
/// Every setting the node reads, validated once at start-up. Each problem is reported with the
/// configuration key it concerns, so an operator can fix appsettings.json, an environment variable
/// (Store__DiskBudget) or a command-line switch (--Store:DiskBudget=2GiB) without guessing.
/// </summary>
public sealed partial class NodeSettings
{
    public required string NodeName { get; init; }
    public required ProxySettings Proxy { get; init; }
    public required CacheSettings Cache { get; init; }
    public required StoreSettings Store { get; init; }
    public required ClusterSettings Cluster { get; init; }
    public CacheCluster.Node.Pac.PacSettings Pac { get; init; } = new();
    public CacheCluster.Node.Upstream.UpstreamSettings Upstream { get; init; } = new();
    /// <summary>Access rules, proxy auth, privacy, limits and the SSRF guard (src/Node/Policy).</summary>
    public CacheCluster.Node.Policy.PolicySettings Policy { get; init; } = new();
    public ManagementSettings Management { get; init; } = ManagementSettings.Default;
    public AccessLogSettings AccessLog { get; init; } = AccessLogSettings.Off;

    public static NodeSettings Load(IConfiguration config, string contentRoot)
    {
        var r = new Reader(config);
        r.RejectUnknown("Node", "Name");
        r.RejectUnknown("Proxy", "Listen", "ConnectPorts", "ConnectTimeout", "OriginTimeout", "OriginIdleTimeout", "Sites", "ViaName", "CacheName", "DebugHeaders");
        r.RejectUnknown("Cache", "MaxObjectSize", "HeuristicFraction", "HeuristicMax", "HotCacheSize", "HotObjectMaxSize",
            "TargetedField", "RefreshRules", "ServeStaleOnErrorFor", "ImmutableIgnoresRequestMaxAge", "SetCookie");
        r.RejectUnknown("Store", "Directory", "MemoryBudget", "DiskBudget", "CheckpointInterval", "CheckpointTimeout");
        r.RejectUnknown("Cluster", "Mode", "SiloPort", "GatewayPort", "PrimarySiloPort", "ClusterId", "ServiceId",
            "ConnectionString", "ConnectionStringFile", "CreateSchema", "AdvertisedAddress",
            "CallTimeout", "ProbeTimeout", "MissedProbesLimit", "TableRefreshTimeout", "DefunctSiloExpiration", "GatewayEnabled", "Tls");

        // A node's name must be unique in the cluster (owner hashing uses it): host name plus silo port by default.
        var nodeName = r.String("Node:Name", $"{Environment.MachineName}-{config["Cluster:SiloPort"] ?? "11111"}");
        var listen = r.Endpoints("Proxy:Listen", "127.0.0.1:3128");
        var connectPorts = r.Ports("Proxy:ConnectPorts", [443]);
        var sites = r.Sites("Proxy:Sites");
        var proxy = new ProxySettings
        {
            Listen = listen,
            ConnectPorts = connectPorts,
            ConnectTimeout = r.Duration("Proxy:ConnectTimeout", TimeSpan.FromSeconds(10)),
            OriginTimeout = r.Duration("Proxy:OriginTimeout", TimeSpan.FromSeconds(60)),
            OriginIdleTimeout = r.Duration("Proxy:OriginIdleTimeout", TimeSpan.FromSeconds(30)),
            Sites = sites,
            ViaName = r.Token("Proxy:ViaName", Environment.MachineName),
            CacheName = r.Token("Proxy:CacheName", "CacheCluster"),
            DebugHeaders = r.Bool("Proxy:DebugHeaders", false),
        };
        var cache = new CacheSettings
        {
            MaxObjectBytes = r.Size("Cache:MaxObjectSize", 256L << 20, min: 1),
            HeuristicFraction = r.Fraction("Cache:HeuristicFraction", 0.1),
            HeuristicMax = r.Duration("Cache:HeuristicMax", TimeSpan.FromDays(1)),
            HotCacheBytes = r.Size("Cache:HotCacheSize", 64L << 20, min: 0),
            HotObjectMaxBytes = r.Size("Cache:HotObjectMaxSize", 1L << 20, min: 0),
            TargetedField = config["Cache:TargetedField"] is { } tf ? (tf.Trim().Length == 0 ? null : tf.Trim()) : CacheCluster.Caching.CacheControl.DefaultTargetField,
            RefreshRules = r.RefreshRules("Cache:RefreshRules"),
            ServeStaleOnErrorFor = config["Cache:ServeStaleOnErrorFor"] is null ? null : r.Duration("Cache:ServeStaleOnErrorFor", TimeSpan.Zero, allowZero: true),
            ImmutableIgnoresRequestMaxAge = r.Bool("Cache:ImmutableIgnoresRequestMaxAge", false),
            SetCookie = r.Enum("Cache:SetCookie", CacheCluster.Caching.SetCookiePolicy.NoStoreUnlessPublic),
        };
        var dir = r.String("Store:Directory", "data");
        var store = new StoreSettings
        {
            Directory = Path.GetFullPath(dir, contentRoot),
            MemoryBudgetBytes = r.Size("Store:MemoryBudget", 64L << 20, min: 4L << 20),
            DiskBudgetBytes = r.Size("Store:DiskBudget", 1L << 30, min: 16L << 20),
            CheckpointInterval = r.Duration("Store:CheckpointInterval", TimeSpan.FromSeconds(30), allowZero: true),
            CheckpointTimeout = r.Duration("Store:CheckpointTimeout", TimeSpan.FromSeconds(15)),
        };
        var clusterMode = r.Enum("Cluster:Mode", ClusteringMode.Localhost);
        var (connectionString, connectionStringKey) = clusterMode == ClusteringMode.AdoNet ? r.ConnectionString(contentRoot) : (null, "");
        var advertised = r.Address("Cluster:AdvertisedAddress", IPAddress.Loopback);
        var cluster = new ClusterSettings
        {
            Mode = clusterMode,
            GatewayEnabled = r.Bool("Cluster:GatewayEnabled", false),
            Tls = ReadClusterTls(r, config, clusterMode, advertised, contentRoot), // NodeSettings.ClusterTls.cs
            SiloPort = r.Port("Cluster:SiloPort", 11111),
            GatewayPort = r.Port("Cluster:GatewayPort", 30000),
            PrimarySiloPort = config["Cluster:PrimarySiloPort"] is null ? null : r.Port("Cluster:PrimarySiloPort", 11111),
            ClusterId = r.String("Cluster:ClusterId", "cache-cluster"),
            ServiceId = r.String("Cluster:ServiceId", "cache-cluster"),
            ConnectionString = connectionString,
            ConnectionStringKey = connectionStringKey,
            CreateSchema = r.Bool("Cluster:CreateSchema", true),
            AdvertisedAddress = advertised,
            // Orleans' defaults; loopback tests and scripts/cluster-up.sh lower them (see README).
            CallTimeout = r.Duration("Cluster:CallTimeout", TimeSpan.FromSeconds(5)),
            ProbeTimeout = r.Duration("Cluster:ProbeTimeout", TimeSpan.FromSeconds(5)),
            MissedProbesLimit = r.Count("Cluster:MissedProbesLimit", 3, min: 1, max: 100),
            TableRefreshTimeout = r.Duration("Cluster:TableRefreshTimeout", TimeSpan.FromSeconds(60)),
            DefunctSiloExpiration = r.Duration("Cluster:DefunctSiloExpiration", TimeSpan.FromDays(7)),
        };
        if (cluster.GatewayEnabled && cluster.SiloPort == cluster.GatewayPort)
            r.Error("Cluster:GatewayPort", $"must differ from Cluster:SiloPort ({cluster.SiloPort})");
        foreach (var ep in listen)
            if (ep.Port == cluster.SiloPort || (cluster.GatewayEnabled && ep.Port == cluster.GatewayPort))
                r.Error("Proxy:Listen", $"port {ep.Port} is already used by the cluster (Cluster:SiloPort / Cluster:GatewayPort)");

        // Browser auto-configuration (src/Node/Pac).
        r.RejectUnknown("Pac", CacheCluster.Node.Pac.PacSettings.Keys);
        var pac = CacheCluster.Node.Pac.PacSettings.Read(config, r.Error);
        // Parent proxies (src/Node/Upstream).
        r.RejectUnknown("Upstream", CacheCluster.Node.Upstream.UpstreamSettings.Keys);
        var upstream = CacheCluster.Node.Upstream.UpstreamSettings.Read(config, r.Error);
        var policy = CacheCluster.Node.Policy.PolicySettings.Load(r, config, contentRoot);
        var (management, accessLog) = ReadManagement(r, config, proxy, cluster, contentRoot); // NodeSettings.Management.cs

        r.ThrowIfErrors();
        return new NodeSettings
        {
            NodeName = nodeName, Proxy = proxy, Cache = cache, Store = store, Cluster = cluster, Pac = pac, Upstream = upstream, Policy = policy,
            Management = management, AccessLog = accessLog,
        };
    }

    /// <summary>Reads typed values and collects every error before failing, so one run shows them all.</summary>
    internal sealed class Reader(IConfiguration config)
    {
        private readonly List<string> _errors = [];

        public void Error(string key, string message) => _errors.Add($"{key}: {message}");

        public void ThrowIfErrors()
        {
            if (_errors.Count > 0) throw new NodeConfigurationException(_errors);
        }

        public void RejectUnknown(string section, params string[] known)
        {
            foreach (var child in config.GetSection(section).GetChildren())
                if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                    Error($"{section}:{child.Key}", $"unknown setting (known: {string.Join(", ", known)})");
        }

        public string String(string key, string fallback)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (string.IsNullOrWhiteSpace(v)) { Error(key, "must not be empty"); return fallback; }
            return v.Trim();
        }

        public string Token(string key, string fallback)
        {
            var v = String(key, fallback);
            foreach (var c in v)
                if (c <= ' ' || c >= 127 || c is ',' or ';' or '"' or '(' or ')')
                {
                    // The value goes into Via / Cache-Status headers: keep it a plain token.
                    if (config[key] is null) return "cachecluster";
                    Error(key, $"'{v}' must be a plain token (letters, digits, '-', '.', '_')");
                    return fallback;
                }
            return v;
        }

        public long Size(string key, long fallback, long min)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!ByteSize.TryParse(v, out var bytes)) { Error(key, $"'{v}' is not a size (examples: 64MiB, 2GiB, 500MB, 1048576)"); return fallback; }
            if (bytes < min) { Error(key, $"{ByteSize.Format(bytes)} is too small; the minimum is {ByteSize.Format(min)}"); return fallback; }
            return bytes;
        }

        public TimeSpan Duration(string key, TimeSpan fallback, bool allowZero = false)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!TryDuration(v, out var d)) { Error(key, $"'{v}' is not a duration (examples: 30s, 5m, 250ms, 00:01:00)"); return fallback; }
            if (d < TimeSpan.Zero || (d == TimeSpan.Zero && !allowZero)) { Error(key, $"'{v}' must be greater than zero"); return fallback; }
            return d;
        }

        /// <summary>Durations in every setting: 250ms, 30s, 5m, 1h, 1d or hh:mm:ss.</summary>
        internal static bool TryDuration(string v, out TimeSpan d)
        {
            v = v.Trim();
            d = default;
            (string suffix, double scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
            foreach (var (suffix, scale) in units)
                if (v.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                    double.TryParse(v.AsSpan(0, v.Length - suffix.Length), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
                {
                    d = TimeSpan.FromSeconds(n * scale);
                    return true;
                }
            return TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out d);
        }

        public double Fraction(string key, double fallback)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) || f < 0 || f > 1)
            { Error(key, $"'{v}' must be a number between 0 and 1"); return fallback; }
            return f;
        }

        public int Port(string key, int fallback)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            { Error(key, $"'{v}' is not a TCP port (1-65535)"); return fallback; }
            return p;
        }

        public int Count(string key, int fallback, int min, int max)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            { Error(key, $"'{v}' must be a whole number from {min} to {max}"); return fallback; }
            return n;
        }

        public bool Bool(string key, bool fallback)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!bool.TryParse(v.Trim(), out var b)) { Error(key, $"'{v}' must be true or false"); return fallback; }
            return b;
        }

        public IPAddress Address(string key, IPAddress fallback)
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!IPAddress.TryParse(v.Trim(), out var a) || a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any))
            { Error(key, $"'{v}' is not an IP address other silos can reach (examples: 127.0.0.1, 10.0.0.5)"); return fallback; }
            return a;
        }

        /// <summary>
        /// Cluster:ConnectionString, or the contents of the file named by Cluster:ConnectionStringFile (a mounted
        /// secret). Returns the value and the key it came from. Messages never repeat the value: it holds a password.
        /// </summary>
        public (string? Value, string Key) ConnectionString(string contentRoot)
        {
            const string inline = "Cluster:ConnectionString", file = "Cluster:ConnectionStringFile";
            if (config[inline] is null && config[file] is null)
            { Error(inline, $"Cluster:Mode=AdoNet needs a PostgreSQL connection string: set {inline} (Host=...;Port=5432;Database=...;Username=...;Password=...) or {file} (a file holding it)"); return (null, inline); }
            var (value, key) = InlineOrFile(inline, file, contentRoot);
            if (value is null) return (null, key);
            var problem = CacheCluster.Node.Clustering.PostgresConnection.Validate(value);
            if (problem is not null) { Error(key, problem); return (null, key); }
            return (value, key);
        }

        /// <summary>
        /// A secret given inline (<paramref name="inlineKey"/>) or as a file holding it (<paramref name="fileKey"/>,
        /// e.g. a mounted Kubernetes Secret; relative to the content root): the trimmed value and the key it came
        /// from. Null when neither is set, or after an error naming the key (both set, unreadable, empty).
        /// </summary>
        public (string? Value, string Key) InlineOrFile(string inlineKey, string fileKey, string contentRoot, string emptyInline = "must not be empty")
        {
            var value = config[inlineKey];
            var path = config[fileKey];
            if (value is not null && path is not null) { Error(fileKey, $"set either {inlineKey} or {fileKey}, not both"); return (null, fileKey); }
            if (path is not null)
            {
                if (string.IsNullOrWhiteSpace(path)) { Error(fileKey, "must not be empty"); return (null, fileKey); }
                try { value = File.ReadAllText(Path.GetFullPath(path.Trim(), contentRoot)).Trim(); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
                { Error(fileKey, $"cannot read '{path.Trim()}': {ex.Message}"); return (null, fileKey); }
                if (value.Length == 0) { Error(fileKey, $"the file '{path.Trim()}' is empty"); return (null, fileKey); }
                return (value, fileKey);
            }
            if (value is null) return (null, inlineKey);
            value = value.Trim();
            if (value.Length == 0) { Error(inlineKey, emptyInline); return (null, inlineKey); }
            return (value, inlineKey);
        }

        public T Enum<T>(string key, T fallback) where T : struct, System.Enum
        {
            var v = config[key];
            if (v is null) return fallback;
            if (!System.Enum.TryParse<T>(v, ignoreCase: true, out var e) || !System.Enum.IsDefined(e))
            { Error(key, $"'{v}' is not one of {string.Join(", ", System.Enum.GetNames<T>())}"); return fallback; }
            return e;
        }

        /// <summary>A list given either as one comma-separated value or as array children (Key:0, Key:1, …).</summary>
        internal List<string>? List(string key)
        {
            var section = config.GetSection(key);
            if (section.Value is { } single)
                return [.. single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            var children = section.GetChildren().Select(c => c.Value).Where(v => !string.IsNullOrWhiteSpace(v)).Select(v => v!.Trim()).ToList();
            return children.Count > 0 ? children : null;
        }

        public IReadOnlyList<IPEndPoint> Endpoints(string key, string fallback)
        {
            var items = List(key) ?? [fallback];
            var result = new List<IPEndPoint>();
            foreach (var item in items)
            {
                if (IPEndPoint.TryParse(item, out var ep) && ep.Port is >= 0 and <= 65535 && item.Contains(':'))
                    result.Add(ep);
                else
                    Error(key, $"'{item}' is not an address:port (examples: 127.0.0.1:3128, [::1]:3128, 0.0.0.0:3128)");
            }
            return result;
        }

        /// <summary>Squid refresh_pattern lines ("regex min percent% max [options]"), each error naming its line.</summary>
        public IReadOnlyList<CacheCluster.Caching.FreshnessRule> RefreshRules(string key)
        {
            // An array (appsettings.json, Cache__RefreshRules__0) or one value with one rule per line: regexes may hold commas.
            var section = config.GetSection(key);
            var lines = section.Value is { } single
                ? single.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
                : section.GetChildren().Select(c => c.Value ?? "").Where(v => v.Trim().Length > 0).ToList();
            var rules = new List<CacheCluster.Caching.FreshnessRule>();
            for (int i = 0; i < lines.Count; i++)
            {
                if (CacheCluster.Caching.FreshnessRule.TryParse(lines[i], out var rule, out var error)) { if (rule is not null) rules.Add(rule); }
                else Error($"{key}:{i}", error);
            }
            return rules;
        }

        public IReadOnlySet<int> Ports(string key, int[] fallback)
        {
            var items = List(key);
            if (items is null) return new HashSet<int>(fallback);
            var set = new HashSet<int>();
            foreach (var item in items)
                if (int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is >= 1 and <= 65535) set.Add(p);
                else Error(key, $"'{item}' is not a TCP port (1-65535)");
            return set;
        }

        public IReadOnlyDictionary<string, Uri> Sites(string key)
        {
            var sites = new Dictionary<string, Uri>(StringComparer.OrdinalIgnoreCase);
            foreach (var child in config.GetSection(key).GetChildren())
            {
                var host = child.Key.Trim();
                if (host.Length == 0 || host.Contains('/') || Uri.CheckHostName(host.Split(':')[0]) == UriHostNameType.Unknown)
                { Error($"{key}:{child.Key}", "the key must be a host name (optionally with :port) that clients send in Host"); continue; }
                if (!Uri.TryCreate(child.Value, UriKind.Absolute, out var origin) || (origin.Scheme != "http" && origin.Scheme != "https")
                    || origin.Query.Length > 0)
                { Error($"{key}:{child.Key}", $"'{child.Value}' is not an origin base URL (example: http://127.0.0.1:8080/)"); continue; }
                sites[host] = origin;
            }
            return sites;
        }
    }
}

public sealed class ProxySettings
{
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    public required IReadOnlySet<int> ConnectPorts { get; init; }
    public required TimeSpan ConnectTimeout { get; init; }
    public required TimeSpan OriginTimeout { get; init; }
    /// <summary>An origin body that sends nothing for this long is given up (client connection and fill aborted).</summary>
    public TimeSpan OriginIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Reverse-proxy (accelerator) sites: public host name -> origin base URL.</summary>
    public required IReadOnlyDictionary<string, Uri> Sites { get; init; }
    public required string ViaName { get; init; }
    public required string CacheName { get; init; }
    /// <summary>Adds X-Cache-Node / X-Cache-Owner (node names) to responses: for benchmarks and debugging.</summary>
    public bool DebugHeaders { get; init; }
}

public sealed class CacheSettings
{
    public required long MaxObjectBytes { get; init; }
    public required double HeuristicFraction { get; init; }
    public required TimeSpan HeuristicMax { get; init; }
    /// <summary>Memory for this node's hot copies of popular entries (0 disables them).</summary>
    public required long HotCacheBytes { get; init; }
    public required long HotObjectMaxBytes { get; init; }
    /// <summary>Targeted cache-control field obeyed instead of Cache-Control (RFC 9213); null: none.</summary>
    public string? TargetedField { get; init; }
    /// <summary>Operator freshness rules, Squid refresh_pattern syntax, first match wins.</summary>
    public IReadOnlyList<CacheCluster.Caching.FreshnessRule> RefreshRules { get; init; } = [];
    public TimeSpan? ServeStaleOnErrorFor { get; init; }
    public bool ImmutableIgnoresRequestMaxAge { get; init; }
    public CacheCluster.Caching.SetCookiePolicy SetCookie { get; init; }
}

public sealed class StoreSettings
{
    public required string Directory { get; init; }
    public required long MemoryBudgetBytes { get; init; }
    public required long DiskBudgetBytes { get; init; }
    public required TimeSpan CheckpointInterval { get; init; }
    /// <summary>Longest a checkpoint may take; a slower or failed one marks the store failing (and bounds shutdown).</summary>
    public TimeSpan CheckpointTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

public sealed class ClusterSettings
{
    public required ClusteringMode Mode { get; init; }
    /// <summary>
    /// Localhost mode only: the silo port of the node that hosts the development membership (unset: this node).
    /// Lets several nodes on one machine form a cluster without a database (tests, demos).
    /// </summary>
    public int? PrimarySiloPort { get; init; }
    /// <summary>How long a call to another node's grain may take before it fails (then retried once, then bypassed).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public required int SiloPort { get; init; }
    public required int GatewayPort { get; init; }
    /// <summary>The Orleans gateway (for external Orleans clients) listens only when asked: nothing in the node needs it.</summary>
    public bool GatewayEnabled { get; init; }
    /// <summary>Mutual TLS on the silo and gateway ports (Cluster:Tls:*).</summary>
    public ClusterTlsSettings Tls { get; init; } = new();
    public required string ClusterId { get; init; }
    public required string ServiceId { get; init; }
    /// <summary>AdoNet mode: the PostgreSQL connection string (holds a password: never log it).</summary>
    public string? ConnectionString { get; init; }
    /// <summary>The key the connection string came from (Cluster:ConnectionString or Cluster:ConnectionStringFile), for messages.</summary>
    public string ConnectionStringKey { get; init; } = "Cluster:ConnectionString";
    /// <summary>AdoNet mode: create or update the membership schema at start-up (idempotent).</summary>
    public bool CreateSchema { get; init; } = true;
    /// <summary>AdoNet mode: the address this silo publishes in the membership table and listens on.</summary>
    public IPAddress AdvertisedAddress { get; init; } = IPAddress.Loopback;
    // Failure detection (Orleans ClusterMembershipOptions).
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public int MissedProbesLimit { get; init; } = 3;
    public TimeSpan TableRefreshTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan DefunctSiloExpiration { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>Start-up configuration errors, one line per key.</summary>
public sealed class NodeConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid configuration:\n  " + string.Join("\n  ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
