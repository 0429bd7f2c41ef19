using CacheCluster.Caching;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Policy.Runtime;

/// <summary>
/// A section of the runtime policy that can be replaced while the node runs (management SetPolicy). The
/// built-in one is "refresh_rules"; the access policy plugs in "access_rules" by registering an
/// implementation: <c>services.AddSingleton&lt;IRuntimePolicySection, MyAccessRules&gt;()</c>.
/// </summary>
public interface IRuntimePolicySection
{
    /// <summary>The section's name in the API (PolicySnapshot / SetPolicyRequest.sections).</summary>
    string Name { get; }

    /// <summary>The lines in force (configuration syntax).</summary>
    IReadOnlyList<string> Current { get; }

    /// <summary>Null if every line is valid; else a message naming the first bad line (e.g. "line 3: ...").</summary>
    string? Validate(IReadOnlyList<string> lines);

    /// <summary>Puts validated lines in force (atomically: requests see the old or the new set, never a mix).</summary>
    void Apply(IReadOnlyList<string> lines);

    /// <summary>
    /// Compiles the lines again, re-reading the files they name (a reload, SIGHUP): lines
    /// <paramref name="fromConfiguration"/> as at start-up, else as set at run time. Throws on an error, changing nothing.
    /// </summary>
    void Reload(IReadOnlyList<string> lines, bool fromConfiguration);
}

/// <summary>
/// The node's runtime policy: the freshness rules the proxy reads on every request (an immutable snapshot,
/// swapped whole) plus any registered sections. Changed through the management API on every node at once, and
/// kept in the data folder (runtime-policy.json: <see cref="RuntimePolicyFile"/>), so a restart, even of the whole
/// cluster, keeps it; a section never set at run time follows the configuration (and its reloads).
/// </summary>
public sealed class RuntimePolicy
{
    public const string RefreshRulesSection = "refresh_rules";
    public const string AccessRulesSection = "access_rules";

    private readonly Dictionary<string, IRuntimePolicySection> _sections = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private FreshnessRules _freshness;
    private string[] _refreshLines;
    private long _version;
    /// <summary>Sections set through the management API (or taken over from another node): configuration no longer rules them.</summary>
    private readonly HashSet<string> _setAtRunTime = new(StringComparer.Ordinal);
    private readonly RuntimePolicyFile? _file;
    private readonly SemaphoreSlim _saving = new(1, 1);

    public RuntimePolicy(NodeSettings settings, IEnumerable<IRuntimePolicySection> sections, ILogger<RuntimePolicy>? logger = null)
    {
        _freshness = new FreshnessRules
        {
            MaxObjectBytes = settings.Cache.MaxObjectBytes,
            HeuristicFraction = settings.Cache.HeuristicFraction,
            HeuristicMax = settings.Cache.HeuristicMax,
            Rules = settings.Cache.RefreshRules,
            Defaults = settings.Cache.PackageRules ? PackageRefreshRules.Rules : [],
            SetCookie = settings.Cache.SetCookie,
            TargetedField = settings.Cache.TargetedField,
            ServeStaleOnErrorFor = settings.Cache.ServeStaleOnErrorFor,
            ImmutableIgnoresRequestMaxAge = settings.Cache.ImmutableIgnoresRequestMaxAge,
        };
        _refreshLines = [.. settings.Cache.RefreshRules.Select(r => r.Text)];
        foreach (var s in sections) _sections[s.Name] = s;
        _file = new RuntimePolicyFile(settings.Store.Directory, logger);
        if (_file.Load() is { } saved) Restore(saved, logger);
    }

    /// <summary>Puts the policy of the last run back (sections that no longer validate keep the configuration's).</summary>
    private void Restore(RuntimePolicyFile.Saved saved, ILogger? logger)
    {
        var sections = saved.Sections.Where(Supports).ToList();
        var snapshot = new PolicySnapshot(saved.RefreshRules ?? [], saved.AccessRules ?? [], saved.Version);
        foreach (var bad in sections.Where(s => Validate(s, LinesOf(snapshot, s)) is not null).ToList())
        {
            logger?.LogWarning("The saved runtime policy's {Section} no longer apply ({Error}); the configuration's are used", bad, Validate(bad, LinesOf(snapshot, bad)));
            sections.Remove(bad);
        }
        if (sections.Count == 0) return;
        PutInForce(snapshot, sections); // from the file: nothing to save
        logger?.LogInformation("Runtime policy version {Version} restored from the last run ({Sections})", saved.Version, string.Join(", ", sections));
    }

    /// <summary>
    /// A configuration reload (SIGHUP): sections never set at run time take the configuration's new lines; every
    /// section is compiled again, so the list files it names are read again. The version does not change.
    /// Throws (changing nothing in the failing section) when a section does not compile.
    /// </summary>
    public void Reconfigure(NodeSettings fresh)
    {
        PolicySnapshot result;
        lock (_gate)
        {
            if (!_setAtRunTime.Contains(RefreshRulesSection))
            {
                Volatile.Write(ref _freshness, WithRules(Freshness, fresh.Cache.RefreshRules));
                _refreshLines = [.. fresh.Cache.RefreshRules.Select(r => r.Text)];
            }
            if (_sections.TryGetValue(AccessRulesSection, out var access))
            {
                bool runtime = _setAtRunTime.Contains(AccessRulesSection);
                access.Reload(runtime ? [.. access.Current] : fresh.Policy.AccessRules, fromConfiguration: !runtime);
            }
            result = SnapshotLocked();
        }
        Changed?.Invoke(result);
    }

    private static FreshnessRules WithRules(FreshnessRules current, IReadOnlyList<FreshnessRule> rules) => new()
    {
        MaxObjectBytes = current.MaxObjectBytes,
        HeuristicFraction = current.HeuristicFraction,
        HeuristicMax = current.HeuristicMax,
        Rules = rules,
        Defaults = current.Defaults,
        SetCookie = current.SetCookie,
        TargetedField = current.TargetedField,
        ServeStaleOnErrorFor = current.ServeStaleOnErrorFor,
        ImmutableIgnoresRequestMaxAge = current.ImmutableIgnoresRequestMaxAge,
    };

    /// <summary>The freshness rules in force; read once per use, never cached by callers across requests.</summary>
    public FreshnessRules Freshness => Volatile.Read(ref _freshness);

    /// <summary>Raised after a change, with the new snapshot.</summary>
    public event Action<PolicySnapshot>? Changed;

    public bool Supports(string section) => section == RefreshRulesSection || _sections.ContainsKey(section);

    public PolicySnapshot Snapshot()
    {
        lock (_gate) return SnapshotLocked();
    }

    private PolicySnapshot SnapshotLocked() =>
        new(_refreshLines, _sections.TryGetValue(AccessRulesSection, out var access) ? [.. access.Current] : [], _version);

    private IReadOnlyList<string> CurrentLines(string section) =>
        section == RefreshRulesSection ? _refreshLines : _sections.TryGetValue(section, out var s) ? s.Current : [];

    /// <summary>Null if <paramref name="lines"/> are valid for <paramref name="section"/>; else a message naming the bad line.</summary>
    public string? Validate(string section, IReadOnlyList<string> lines)
    {
        if (section == RefreshRulesSection)
        {
            for (int i = 0; i < lines.Count; i++)
                if (!FreshnessRule.TryParse(lines[i], out _, out var error)) return $"line {i + 1} ('{lines[i]}'): {error}";
            return null;
        }
        if (_sections.TryGetValue(section, out var s)) return s.Validate(lines);
        return $"this node has no '{section}' policy section";
    }

    /// <summary>
    /// Applies the named sections (validate first: an invalid line throws and nothing changes). A positive
    /// <see cref="PolicySnapshot.Version"/> is the version the change is to have on every node: a node that already
    /// has it with these lines (taken over from another node while the change was on its way) keeps it as is, so
    /// one change is one version everywhere. Version 0: the next version.
    /// The change is in force when this returns its task (requests see it from then on, before any await); the
    /// task completes once it is also saved in runtime-policy.json, so a restart keeps it.
    /// </summary>
    public async Task<PolicySnapshot> ApplyAsync(PolicySnapshot policy, IReadOnlyList<string> sections)
    {
        var (result, changed) = PutInForce(policy, sections);
        if (changed) await SaveAsync();
        return result;
    }

    private (PolicySnapshot Result, bool Changed) PutInForce(PolicySnapshot policy, IReadOnlyList<string> sections)
    {
        foreach (var section in sections)
            if (Validate(section, LinesOf(policy, section)) is { } error) throw new ArgumentException($"{section}: {error}");
        PolicySnapshot result;
        lock (_gate)
        {
            if (policy.Version > 0 && policy.Version <= _version && sections.All(s => LinesOf(policy, s).SequenceEqual(CurrentLines(s))))
                return (SnapshotLocked(), false);
            foreach (var section in sections)
            {
                var lines = LinesOf(policy, section);
                if (section == RefreshRulesSection)
                {
                    var rules = new List<FreshnessRule>();
                    foreach (var line in lines)
                        if (FreshnessRule.TryParse(line, out var rule, out _) && rule is not null) rules.Add(rule);
                    Volatile.Write(ref _freshness, WithRules(Freshness, rules));
                    _refreshLines = [.. lines];
                }
                else _sections[section].Apply(lines);
            }
            _version = Math.Max(policy.Version, _version + 1);
            foreach (var section in sections) _setAtRunTime.Add(section);
            result = SnapshotLocked();
        }
        Changed?.Invoke(result);
        return (result, true);
    }

    /// <summary>
    /// Writes what is in force now (not what one caller applied: saves of concurrent changes may finish in any
    /// order, and the file must end with the newest). Off the path to enforcement: a first save in a process
    /// costs ~100 ms of serializer start-up on a loaded box, during which requests already see the change.
    /// </summary>
    private async Task SaveAsync()
    {
        if (_file is null) return;
        await _saving.WaitAsync();
        try
        {
            PolicySnapshot now;
            string[] setAtRunTime;
            lock (_gate)
            {
                now = SnapshotLocked();
                setAtRunTime = [.. _setAtRunTime];
            }
            await _file.SaveAsync(now, setAtRunTime);
        }
        finally { _saving.Release(); }
    }

    /// <summary>
    /// Takes over another node's policy when it is newer (a node joining a cluster whose policy was changed at
    /// run time). Lines that do not validate here (a section this node lacks) are skipped.
    /// </summary>
    public async Task<bool> AdoptAsync(PolicySnapshot other)
    {
        if (other.Version <= Snapshot().Version) return false;
        var sections = new List<string> { RefreshRulesSection };
        if (_sections.ContainsKey(AccessRulesSection)) sections.Add(AccessRulesSection);
        sections.RemoveAll(s => Validate(s, LinesOf(other, s)) is not null);
        await ApplyAsync(other, sections); // takes other's version
        return true;
    }

    public static IReadOnlyList<string> LinesOf(PolicySnapshot policy, string section) => section switch
    {
        RefreshRulesSection => policy.RefreshRules,
        AccessRulesSection => policy.AccessRules,
        _ => [],
    };
}
