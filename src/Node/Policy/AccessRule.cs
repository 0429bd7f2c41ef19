using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace CacheCluster.Node.Policy;

/// <summary>
/// One access rule, Squid http_access style: an action and conditions that must all hold (values within
/// one condition are alternatives). Syntax and keys: docs/access-rules.md.
/// </summary>
public sealed class AccessRule
{
    public required bool Allow { get; init; }
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required string Source { get; init; }
    internal Condition[] Conditions { get; init; } = [];
    /// <summary>The rule names users or groups: without credentials it can only be decided after a 407.</summary>
    public bool NeedsUser => Conditions.Any(c => c.NeedsUser);

    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Parses one line. <paramref name="resolvePath"/> turns a relative list-file path into a full one.
    /// Returns null and an error sentence for a bad line, and null without error for blank/comment lines.
    /// </summary>
    public static AccessRule? Parse(string line, int index, Func<string, string> resolvePath, out string? error)
    {
        error = null;
        var text = line.Trim();
        if (text.Length == 0 || text.StartsWith('#')) return null;
        var tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        bool allow;
        if (tokens[0].Equals("allow", StringComparison.OrdinalIgnoreCase)) allow = true;
        else if (tokens[0].Equals("deny", StringComparison.OrdinalIgnoreCase)) allow = false;
        else { error = $"'{tokens[0]}' must be 'allow' or 'deny' (example: allow src=10.0.0.0/8 port=80,443)"; return null; }

        string name = $"rule-{index}";
        var conditions = new List<Condition>();
        for (int i = 1; i < tokens.Length; i++)
        {
            var token = tokens[i];
            if (token.Equals("all", StringComparison.OrdinalIgnoreCase)) continue;
            bool negated = token.StartsWith('!');
            if (negated) token = token[1..];
            int eq = token.IndexOf('=');
            if (eq <= 0 || eq == token.Length - 1)
            { error = $"'{tokens[i]}' is not key=value (keys: name, src, dst, dstdomain, url_regex, method, port, proxy_auth, group, time, days)"; return null; }
            var key = token[..eq].ToLowerInvariant();
            var value = token[(eq + 1)..];
            if (key == "name")
            {
                if (negated) { error = "name cannot be negated"; return null; }
                name = value;
                continue;
            }
            Condition? c = key switch
            {
                // Squid's ACL types and meanings: src/dst are addresses, dstdomain names, url_regex the URL.
                "src" => NetworkCondition.Parse(value, destination: false, out error),
                "dst" => NetworkCondition.Parse(value, destination: true, out error),
                "dstdomain" => value.Length > 2 && value.StartsWith('"') && value.EndsWith('"')
                    ? DomainCondition.Parse(null, value[1..^1], resolvePath, out error) // dstdomain="/path/list", as in squid.conf
                    : DomainCondition.Parse(value, null, resolvePath, out error),
                "url_regex" => UrlCondition.Parse(value, out error),
                "method" => MethodCondition.Parse(value, out error),
                "port" => PortCondition.Parse(value, out error),
                "proxy_auth" => new UserCondition(value.Equals("REQUIRED", StringComparison.Ordinal) ? ["*"] : Split(value), Groups: false),
                // The spellings before Squid's vocabulary: refused with the new one named, never silently re-read.
                "dst-file" => Renamed(key, $"dstdomain=\"{value}\"", out error),
                "url" => Renamed(key, $"url_regex={value}", out error),
                "user" => Renamed(key, $"proxy_auth={value}", out error),
                "group" => new UserCondition(Split(value), Groups: true),
                "time" => TimeCondition.Parse(value, out error),
                "days" => DaysCondition.Parse(value, out error),
                _ => Unknown(key, out error),
            };
            if (c is null) return null;
            c.Negated = negated;
            conditions.Add(c);
        }
        return new AccessRule { Allow = allow, Name = name, Index = index, Source = text, Conditions = [.. conditions] };

        static Condition? Unknown(string key, out string? error)
        {
            error = $"unknown condition '{key}' (keys: name, src, dst, dstdomain, url_regex, method, port, proxy_auth, group, time, days)";
            return null;
        }

        static Condition? Renamed(string key, string replacement, out string? error)
        {
            error = $"'{key}=' is now spelled as in Squid: {replacement}";
            return null;
        }
    }

    /// <summary>Match: all conditions hold. <paramref name="missingUser"/>: a user condition could not be decided.</summary>
    internal bool Matches(in AccessRequest request, out bool missingUser, out bool regexTimedOut)
    {
        missingUser = false;
        regexTimedOut = false;
        foreach (var c in Conditions)
        {
            if (c.NeedsUser && request.User is null)
            {
                missingUser = true;
                return false;
            }
            bool hit;
            try { hit = c.Matches(request); }
            catch (RegexMatchTimeoutException)
            {
                // Fail closed: a deny rule whose regex timed out applies; an allow rule does not.
                regexTimedOut = true;
                if (Allow) return false;
                continue;
            }
            if (hit == c.Negated) return false;
        }
        return true;
    }

    internal static string[] Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

internal abstract class Condition
{
    public bool Negated { get; set; }
    public virtual bool NeedsUser => false;
    public abstract bool Matches(in AccessRequest request);
}

/// <summary><c>src</c>: the client's address; <c>dst</c>: the destination's (an address in the URL, or what its name resolves to).</summary>
internal sealed class NetworkCondition(IPNetwork[] networks, bool destination) : Condition
{
    public bool Destination => destination;

    public static NetworkCondition? Parse(string value, bool destination, out string? error)
    {
        var list = new List<IPNetwork>();
        foreach (var item in AccessRule.Split(value))
        {
            if (IPNetwork.TryParse(item, out var net)) list.Add(net);
            else if (IPAddress.TryParse(item, out var addr)) list.Add(new IPNetwork(addr, addr.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            else
            {
                error = $"'{item}' is not an address or CIDR network (examples: 10.0.0.0/8, 2001:db8::/32, 127.0.0.1)" +
                    (destination ? $"; dst is the destination's address, as in Squid: for a domain write dstdomain={item}" : "");
                return null;
            }
        }
        error = null;
        return new NetworkCondition([.. list], destination);
    }

    public override bool Matches(in AccessRequest request)
    {
        if (!destination) return Contains(request.Client);
        foreach (var a in request.DestinationAddresses ?? [])
            if (Contains(a)) return true;
        return false;
    }

    private bool Contains(IPAddress address)
    {
        foreach (var n in networks)
            if (n.Contains(address)) return true;
        return false;
    }
}

internal sealed class DomainCondition(DomainList domains) : Condition
{
    public static DomainCondition? Parse(string? inline, string? file, Func<string, string> resolvePath, out string? error)
    {
        var list = new DomainList();
        error = null;
        if (inline is not null)
            foreach (var item in AccessRule.Split(inline))
                if ((error = list.Add(item)) is not null) return null;
        if (file is not null)
        {
            string path;
            try { path = resolvePath(file); }
            catch (ListFileRefusedException refused) { error = refused.Message; return null; }
            if ((error = DomainList.LoadFile(path, list, shownAs: file)) is not null) return null;
        }
        return new DomainCondition(list);
    }

    public override bool Matches(in AccessRequest request) => domains.Matches(request.Host);
}

internal sealed class UrlCondition(Regex regex) : Condition
{
    public static UrlCondition? Parse(string value, out string? error)
    {
        error = null;
        try
        {
            // Linear-time matching only: a crafted URL cannot make a rule cost more than its length.
            return new UrlCondition(UrlPatterns.Get(value));
        }
        catch (NotSupportedException)
        {
            error = $"'{value}' uses a construct the linear-time regex engine does not support (backreferences, lookarounds, atomic groups, conditionals); rewrite it without";
            return null;
        }
        catch (ArgumentException ex) { error = $"'{value}' is not a regular expression: {ex.Message}"; return null; }
    }

    public override bool Matches(in AccessRequest request) => regex.IsMatch(request.Url);
}

internal sealed class MethodCondition(HashSet<string> methods) : Condition
{
    public static MethodCondition? Parse(string value, out string? error)
    {
        var set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var m in AccessRule.Split(value))
        {
            if (!m.All(c => char.IsAsciiLetter(c) || c == '-')) { error = $"'{m}' is not an HTTP method"; return null; }
            set.Add(m);
        }
        error = null;
        return new MethodCondition(set);
    }

    public override bool Matches(in AccessRequest request) => methods.Contains(request.Method);
}

internal sealed class PortCondition((int From, int To)[] ranges) : Condition
{
    public static PortCondition? Parse(string value, out string? error)
    {
        var list = new List<(int, int)>();
        foreach (var item in AccessRule.Split(value))
        {
            var parts = item.Split('-');
            if (parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var from)
                && int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out var to) && from is >= 1 and <= 65535
                && to is >= 1 and <= 65535 && from <= to)
                list.Add((from, to));
            else { error = $"'{item}' is not a port or port range (examples: 443, 8000-8999)"; return null; }
        }
        error = null;
        return new PortCondition([.. list]);
    }

    public override bool Matches(in AccessRequest request)
    {
        foreach (var (from, to) in ranges)
            if (request.Port >= from && request.Port <= to) return true;
        return false;
    }
}

/// <summary>user=alice,bob (user=* any authenticated user) or group=staff.</summary>
internal sealed class UserCondition(string[] names, bool Groups) : Condition
{
    public override bool NeedsUser => true;

    public override bool Matches(in AccessRequest request)
    {
        foreach (var n in names)
        {
            if (!Groups && (n == "*" || string.Equals(n, request.User, StringComparison.Ordinal))) return true;
            if (Groups && request.Groups is not null && request.Groups.Contains(n)) return true;
        }
        return false;
    }
}

/// <summary>time=08:00-18:00 (node local time; a window may wrap past midnight: 22:00-06:00).</summary>
internal sealed class TimeCondition((TimeSpan From, TimeSpan To)[] windows) : Condition
{
    public static TimeCondition? Parse(string value, out string? error)
    {
        var list = new List<(TimeSpan, TimeSpan)>();
        foreach (var item in AccessRule.Split(value))
        {
            var parts = item.Split('-');
            if (parts.Length == 2 && TimeOnly.TryParseExact(parts[0], "H:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var from)
                && (TimeOnly.TryParseExact(parts[1], "H:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var to) || parts[1] == "24:00"))
                list.Add((from.ToTimeSpan(), parts[1] == "24:00" ? TimeSpan.FromHours(24) : to.ToTimeSpan()));
            else { error = $"'{item}' is not a time window (examples: 08:00-18:00, 22:00-06:00)"; return null; }
        }
        error = null;
        return new TimeCondition([.. list]);
    }

    public override bool Matches(in AccessRequest request)
    {
        var t = request.LocalTime.TimeOfDay;
        foreach (var (from, to) in windows)
            if (from <= to ? t >= from && t < to : t >= from || t < to) return true;
        return false;
    }
}

/// <summary>days=Mon-Fri or days=Sat,Sun.</summary>
internal sealed class DaysCondition(bool[] days) : Condition
{
    private static readonly string[] Names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    public static DaysCondition? Parse(string value, out string? error)
    {
        var set = new bool[7];
        foreach (var item in AccessRule.Split(value))
        {
            var parts = item.Split('-');
            int from = Day(parts[0]), to = Day(parts[^1]);
            if (parts.Length > 2 || from < 0 || to < 0) { error = $"'{item}' is not a day or day range (examples: Mon-Fri, Sat,Sun)"; return null; }
            for (int d = from; ; d = (d + 1) % 7) { set[d] = true; if (d == to) break; }
        }
        error = null;
        return new DaysCondition(set);

        static int Day(string s) => Array.IndexOf(Names, s.Trim().ToLowerInvariant() is { Length: >= 3 } l ? l[..3] : "");
    }

    public override bool Matches(in AccessRequest request) => days[(int)request.LocalTime.DayOfWeek];
}
