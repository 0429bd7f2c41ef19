namespace CacheCluster.Node.Policy;

/// <summary>An immutable, compiled rule set; requests evaluate against whichever snapshot was current when they arrived.</summary>
public sealed class AccessRuleSet
{
    public required IReadOnlyList<AccessRule> Rules { get; init; }
    /// <summary>The lines the set was compiled from (for the management API to show).</summary>
    public required IReadOnlyList<string> Lines { get; init; }
    public required long Version { get; init; }
    public required DateTimeOffset LoadedAt { get; init; }
    public bool UsesUsers { get; init; }
    /// <summary>Some rule looks at the destination host, port or URL (otherwise they are not worked out per request).</summary>
    public bool UsesDestination { get; init; }
    /// <summary>Some rule looks at the destination's address (<c>dst</c>): names are resolved before the rules run.</summary>
    public bool UsesDestinationAddress { get; init; }
    /// <summary>Some rule looks at the time of day or week (otherwise the clock is not read per request).</summary>
    public bool UsesTime { get; init; }

    /// <summary>Rules in force when none are configured: local and private-range clients only.</summary>
    public static readonly IReadOnlyList<string> DefaultLines =
    [
        "allow name=local-clients src=127.0.0.0/8,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10",
        "deny name=default-deny",
    ];

    /// <summary>
    /// First match wins; no match: denied (rule 0, "no-rule-matched"). A rule naming users, reached without a
    /// user, answers Challenge (407) when <paramref name="canChallenge"/>, else it simply does not match.
    /// </summary>
    public AccessDecision Evaluate(in AccessRequest request, bool canChallenge = true)
    {
        bool timedOut = false;
        foreach (var rule in Rules)
        {
            bool matched = rule.Matches(request, out var missingUser, out var regexTimedOut);
            timedOut |= regexTimedOut;
            if (missingUser && canChallenge) return new AccessDecision(AccessVerdict.Challenge, rule.Name, rule.Index);
            if (matched)
                return new AccessDecision(rule.Allow ? AccessVerdict.Allow : AccessVerdict.Deny, rule.Name, rule.Index,
                    regexTimedOut ? "a URL pattern took too long to match" : null);
        }
        return new AccessDecision(AccessVerdict.Deny, "no-rule-matched", 0, timedOut ? "a URL pattern took too long to match" : null);
    }

    /// <summary>Compiles lines into a rule set; every bad line is reported as "index: sentence" (1-based).</summary>
    public static AccessRuleSet? Compile(IReadOnlyList<string> lines, long version, Func<string, string> resolvePath, out IReadOnlyList<string> errors)
    {
        var rules = new List<AccessRule>();
        var problems = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            var rule = AccessRule.Parse(lines[i], rules.Count + 1, resolvePath, out var error);
            if (error is not null) problems.Add($"{i}: {error}");
            else if (rule is not null) rules.Add(rule);
        }
        errors = problems;
        if (problems.Count > 0) return null;
        return new AccessRuleSet
        {
            Rules = rules, Lines = [.. lines], Version = version, LoadedAt = DateTimeOffset.UtcNow,
            UsesUsers = rules.Any(r => r.NeedsUser),
            UsesDestination = rules.Any(r => r.Conditions.Any(c => c is DomainCondition or PortCondition or UrlCondition or NetworkCondition { Destination: true })),
            UsesDestinationAddress = rules.Any(r => r.Conditions.Any(c => c is NetworkCondition { Destination: true })),
            UsesTime = rules.Any(r => r.Conditions.Any(c => c is TimeCondition or DaysCondition)),
        };
    }
}

/// <summary>
/// The node's access rules. <see cref="Current"/> is read lock-free per request; <see cref="Replace"/> compiles
/// a new set (list files included) off to the side and swaps it in atomically, or changes nothing on error.
/// The management API calls Replace on each node.
/// </summary>
public sealed class AccessPolicy
{
    private readonly Func<string, string> _resolvePath;
    private readonly Func<string, string> _configResolvePath;
    private readonly ILogger<AccessPolicy>? _logger;
    private readonly Lock _replaceLock = new();
    private AccessRuleSet _current;

    /// <param name="resolvePath">Resolves list files the configuration names (anywhere: the operator wrote it).</param>
    /// <param name="runtimeResolvePath">Resolves list files of rules replaced at run time (only under Access:ListDirectory); default: as configured.</param>
    public AccessPolicy(IReadOnlyList<string> initialLines, Func<string, string> resolvePath, ILogger<AccessPolicy>? logger = null,
        Func<string, string>? runtimeResolvePath = null)
    {
        _resolvePath = runtimeResolvePath ?? resolvePath;
        _configResolvePath = resolvePath;
        _logger = logger;
        _current = AccessRuleSet.Compile(initialLines, 1, resolvePath, out var errors)
                   ?? throw new ArgumentException("Invalid access rules:\n  " + string.Join("\n  ", errors));
    }

    public AccessRuleSet Current => Volatile.Read(ref _current);

    /// <summary>Raised after a successful replacement (for logs, metrics, the management API).</summary>
    public event Action<AccessRuleSet>? Replaced;

    /// <summary>
    /// Replaces the rule set. Returns the errors (each "lineIndex: sentence"); when there are any, the current
    /// set stays in force. An empty list means the default rules.
    /// </summary>
    public IReadOnlyList<string> Replace(IReadOnlyList<string> lines) => Replace(lines, fromConfiguration: false);

    /// <summary>
    /// As <see cref="Replace(IReadOnlyList{string})"/>; lines <paramref name="fromConfiguration"/> (a reload)
    /// may name list files anywhere, as at start-up; lines set at run time only under Access:ListDirectory.
    /// </summary>
    public IReadOnlyList<string> Replace(IReadOnlyList<string> lines, bool fromConfiguration)
    {
        if (lines.All(l => string.IsNullOrWhiteSpace(l) || l.TrimStart().StartsWith('#'))) lines = AccessRuleSet.DefaultLines;
        AccessRuleSet next;
        lock (_replaceLock)
        {
            var compiled = AccessRuleSet.Compile(lines, _current.Version + 1, fromConfiguration ? _configResolvePath : _resolvePath, out var errors);
            if (compiled is null)
            {
                _logger?.LogWarning("Access rules not replaced, {Count} error(s): {Errors}", errors.Count, string.Join("; ", errors));
                return errors;
            }
            Volatile.Write(ref _current, compiled);
            next = compiled;
        }
        _logger?.LogInformation("Access rules replaced: version {Version}, {Count} rule(s)", next.Version, next.Rules.Count);
        Replaced?.Invoke(next);
        return [];
    }

    public AccessDecision Evaluate(in AccessRequest request, bool canChallenge = true) => Current.Evaluate(request, canChallenge);
}
