using System.Globalization;
using System.Text.RegularExpressions;

namespace CacheCluster.Caching;

/// <summary>
/// An operator freshness rule in the manner of Squid's <c>refresh_pattern</c>:
/// <c>[-i] regex min percent max [option …]</c>, with min and max in minutes.
/// The first rule whose <see cref="UrlPattern"/> matches the URL (cache key) applies.
/// <para>
/// Semantics (as Squid's refreshCheck): explicit freshness (s-maxage, max-age, Expires) is used as sent,
/// except that <see cref="OverrideExpire"/> raises it to at least <see cref="Min"/>. Without explicit
/// freshness the heuristic applies (only to heuristically cacheable statuses, RFC 9111 4.2.2): with a
/// Last-Modified before Date, lifetime = min(<see cref="Percent"/>% × (Date − Last-Modified), Max), raised to
/// at least Min only with <see cref="OverrideLastModified"/>; without one, lifetime = min(Min, Max).
/// no-store and private are honoured unless <see cref="IgnoreNoStore"/> / <see cref="IgnorePrivate"/>.
/// </para>
/// </summary>
public sealed record FreshnessRule
{
    /// <summary>Matching is linear-time (RegexOptions.NonBacktracking); the timeout is a second fence.</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    public required Regex UrlPattern { get; init; }
    /// <summary>Lower bound (heuristic without Last-Modified; with the override options, a floor).</summary>
    public TimeSpan Min { get; init; }
    /// <summary>Percentage of (Date − Last-Modified), Squid-style: 20 means 20 %.</summary>
    public double Percent { get; init; }
    /// <summary>Upper bound of a heuristic lifetime (explicit freshness is not capped).</summary>
    public TimeSpan Max { get; init; }
    /// <summary><c>override-expire</c>: lifetime at least <see cref="Min"/> even when max-age/Expires say less (violates RFC 9111).</summary>
    public bool OverrideExpire { get; init; }
    /// <summary><c>override-lastmod</c>: heuristic lifetime at least <see cref="Min"/> even for recently modified objects.</summary>
    public bool OverrideLastModified { get; init; }
    /// <summary><c>ignore-no-store</c>: store even when the response says no-store (violates RFC 9111).</summary>
    public bool IgnoreNoStore { get; init; }
    /// <summary><c>ignore-private</c>: store and share even a private response (violates RFC 9111; mind user data).</summary>
    public bool IgnorePrivate { get; init; }
    /// <summary>The rule as configured (for logs and errors).</summary>
    public string Text { get; init; } = "";

    public bool Matches(string url)
    {
        try { return UrlPattern.IsMatch(url); }
        catch (RegexMatchTimeoutException) { return false; }
    }

    private static readonly string[] Options = ["override-expire", "override-lastmod", "ignore-no-store", "ignore-private"];

    /// <summary>
    /// Parses <c>[-i] regex min percent max [options]</c> (Squid syntax; min/max whole minutes, percent like
    /// <c>20%</c>). Throws <see cref="FormatException"/> naming the bad token.
    /// </summary>
    public static FreshnessRule Parse(string text)
    {
        if (!TryParse(text, out var rule, out var error)) throw new FormatException(error);
        return rule;
    }

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out FreshnessRule? rule, out string error)
    {
        rule = null;
        error = "";
        var tokens = (text ?? "").Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        string Err(string what) => $"freshness rule \"{text}\": {what}";
        int i = 0;
        bool ignoreCase = false;
        if (i < tokens.Length && tokens[i] == "-i") { ignoreCase = true; i++; }
        if (tokens.Length - i < 4)
        {
            error = Err("expected \"[-i] regex min percent max [options]\"");
            return false;
        }
        var patternToken = tokens[i++];
        Regex regex;
        try
        {
            // The linear-time engine: a URL cannot make matching explode, whatever the pattern.
            regex = new Regex(patternToken,
                RegexOptions.CultureInvariant | RegexOptions.NonBacktracking | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None),
                MatchTimeout);
        }
        catch (NotSupportedException)
        {
            error = Err($"regex '{patternToken}' uses a construct the linear-time regex engine does not support "
                        + "(backreferences, lookarounds, atomic groups, conditionals); rewrite it without");
            return false;
        }
        catch (ArgumentException ex)
        {
            error = Err($"bad regex '{patternToken}': {ex.Message}");
            return false;
        }
        var minToken = tokens[i++];
        if (!TryMinutes(minToken, out var min)) { error = Err($"bad min '{minToken}' (whole minutes, 0 or more)"); return false; }
        var pctToken = tokens[i++];
        var pctText = pctToken.EndsWith('%') ? pctToken[..^1] : pctToken;
        if (!double.TryParse(pctText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var percent) || double.IsInfinity(percent))
        {
            error = Err($"bad percent '{pctToken}' (like 20%)");
            return false;
        }
        var maxToken = tokens[i++];
        if (!TryMinutes(maxToken, out var max)) { error = Err($"bad max '{maxToken}' (whole minutes, 0 or more)"); return false; }

        bool overrideExpire = false, overrideLastMod = false, ignoreNoStore = false, ignorePrivate = false;
        for (; i < tokens.Length; i++)
        {
            switch (tokens[i].ToLowerInvariant())
            {
                case "override-expire": overrideExpire = true; break;
                case "override-lastmod": overrideLastMod = true; break;
                case "ignore-no-store": ignoreNoStore = true; break;
                case "ignore-private": ignorePrivate = true; break;
                default:
                    error = Err($"unknown option '{tokens[i]}' (supported: {string.Join(", ", Options)})");
                    return false;
            }
        }
        rule = new FreshnessRule
        {
            UrlPattern = regex,
            Min = min,
            Percent = percent,
            Max = max,
            OverrideExpire = overrideExpire,
            OverrideLastModified = overrideLastMod,
            IgnoreNoStore = ignoreNoStore,
            IgnorePrivate = ignorePrivate,
            Text = text!.Trim(),
        };
        return true;
    }

    /// <summary>Parses several rules (blank lines and lines starting with '#' skipped); the first error throws.</summary>
    public static IReadOnlyList<FreshnessRule> ParseAll(IEnumerable<string?> lines)
    {
        var rules = new List<FreshnessRule>();
        foreach (var line in lines)
        {
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith('#')) continue;
            rules.Add(Parse(line));
        }
        return rules;
    }

    private static bool TryMinutes(string token, out TimeSpan value)
    {
        value = default;
        // Up to ~190 years in minutes; more is a typo.
        if (!long.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var minutes) || minutes > 100_000_000) return false;
        value = TimeSpan.FromMinutes(minutes);
        return true;
    }
}
