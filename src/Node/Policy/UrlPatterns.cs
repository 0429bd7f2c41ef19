using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace CacheCluster.Node.Policy;

/// <summary>
/// The url_regex patterns of the rule sets, compiled once per pattern and shared: a rule set is compiled to
/// validate it and again to put it in force (and a SetPolicy compiles it on the receiving node first), and a
/// linear-time regex costs ~4 ms to build on a loaded 2-core box (100-370 ms for the first one in a process).
/// A <see cref="Regex"/> is immutable and safe to match from any thread; sharing it also shares the matching
/// states it has learnt.
/// </summary>
internal static class UrlPatterns
{
    private const RegexOptions Linear = RegexOptions.CultureInvariant | RegexOptions.NonBacktracking;

    /// <summary>Patterns kept; past this the cache starts again (rule sets hold a few dozen).</summary>
    private const int Keep = 512;

    private static readonly ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    /// <summary>The compiled pattern; throws as the Regex constructor does (ArgumentException, NotSupportedException).</summary>
    public static Regex Get(string pattern)
    {
        if (Compiled.TryGetValue(pattern, out var regex)) return regex;
        regex = new Regex(pattern, Linear, AccessRule.RegexTimeout);
        if (Compiled.Count >= Keep) Compiled.Clear();
        return Compiled.GetOrAdd(pattern, regex);
    }

    /// <summary>
    /// Builds and runs one pattern so the engine's code is compiled before a rule needs it: cold, the first
    /// url_regex costs 100-370 ms (measured at load 25 on 2 cores), paid by the validation of the first rule set
    /// set at run time and again by each node applying it (docs/faults.md).
    /// </summary>
    public static void WarmUp() => new Regex("^https?://warm-up/[a-z]+", Linear, AccessRule.RegexTimeout).IsMatch("http://warm-up/path");
}
