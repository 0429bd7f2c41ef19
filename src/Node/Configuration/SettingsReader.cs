using System.Globalization;
using System.Net;
using CacheCluster.Caching;
using CacheCluster.Node.ClusterClient.Membership;

namespace CacheCluster.Node.Configuration;

/// <summary>Reads typed values and collects every error before failing, so one run shows them all.</summary>
internal sealed class SettingsReader(IConfiguration config, string contentRoot)
{
    /// <summary>The raw configuration, for sections with shapes of their own (lists, maps).</summary>
    public IConfiguration Config => config;

    /// <summary>The folder relative paths in settings are resolved against.</summary>
    public string ContentRoot => contentRoot;

    /// <summary>A path from a setting, resolved against the content root.</summary>
    public string FullPath(string path) => System.IO.Path.GetFullPath(path.Trim(), contentRoot);

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
        if (!ByteSize.TryParse(v, out var bytes)) { Error(key, $"'{v}' is not a size (examples: 64MiB, 2GiB, 512KB, 1048576; every unit is a power of 1024)"); return fallback; }
        if (bytes < min) { Error(key, $"{ByteSize.Format(bytes)} is too small; the minimum is {ByteSize.Format(min)}"); return fallback; }
        return bytes;
    }

    public TimeSpan Duration(string key, TimeSpan fallback, bool allowZero = false)
    {
        var v = config[key];
        if (v is null) return fallback;
        if (IsBareNumber(v)) { Error(key, $"'{v}' has no unit: write {v.Trim()}s, {v.Trim()}m, … (units: ms, s, m, h, d; or hh:mm:ss)"); return fallback; }
        if (!TryDuration(v, out var d)) { Error(key, $"'{v}' is not a duration (examples: 30s, 5m, 250ms, 00:01:00; units: ms, s, m, h, d)"); return fallback; }
        if (d < TimeSpan.Zero || (d == TimeSpan.Zero && !allowZero)) { Error(key, $"'{v}' must be greater than zero"); return fallback; }
        return d;
    }

    /// <summary>A number without a unit, which .NET would read as days ("60" is 60 days): refused in durations.</summary>
    internal static bool IsBareNumber(string v) => double.TryParse(v.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out _);

    /// <summary>Durations in every setting: 250ms, 30s, 5m, 1h, 1d or hh:mm:ss (a bare number is not one).</summary>
    internal static bool TryDuration(string v, out TimeSpan d)
    {
        v = v.Trim();
        d = default;
        if (IsBareNumber(v)) return false;
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
    public (string? Value, string Key) ConnectionString()
    {
        const string inline = "Cluster:ConnectionString", file = "Cluster:ConnectionStringFile";
        if (config[inline] is null && config[file] is null)
        { Error(inline, $"Cluster:Mode=AdoNet needs a PostgreSQL connection string: set {inline} (Host=...;Port=5432;Database=...;Username=...;Password=...) or {file} (a file holding it)"); return (null, inline); }
        var (value, key) = InlineOrFile(inline, file);
        if (value is null) return (null, key);
        var problem = PostgresConnection.Validate(value);
        if (problem is not null) { Error(key, problem); return (null, key); }
        return (PostgresConnection.WithNodeDefaults(value), key);
    }

    /// <summary>
    /// A secret given inline (<paramref name="inlineKey"/>) or as a file holding it (<paramref name="fileKey"/>,
    /// e.g. a mounted Kubernetes Secret; relative to the content root): the trimmed value and the key it came
    /// from. Null when neither is set, or after an error naming the key (both set, unreadable, empty).
    /// </summary>
    public (string? Value, string Key) InlineOrFile(string inlineKey, string fileKey, string emptyInline = "must not be empty")
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
    public IReadOnlyList<FreshnessRule> RefreshRules(string key)
    {
        // An array (appsettings.json, Cache__RefreshRules__0) or one value with one rule per line: regexes may hold commas.
        var section = config.GetSection(key);
        var lines = section.Value is { } single
            ? single.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList()
            : section.GetChildren().Select(c => c.Value ?? "").Where(v => v.Trim().Length > 0).ToList();
        var rules = new List<FreshnessRule>();
        for (int i = 0; i < lines.Count; i++)
        {
            if (FreshnessRule.TryParse(lines[i], out var rule, out var error)) { if (rule is not null) rules.Add(rule); }
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
