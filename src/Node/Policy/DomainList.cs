namespace CacheCluster.Node.Policy;

/// <summary>
/// Destination domains as Squid's dstdomain: "example.com" matches that name only, ".example.com" matches
/// example.com and every name below it. Lookups walk the labels of the asked name through two hash sets,
/// so a list of hundreds of thousands of entries costs a handful of probes and no allocation.
/// </summary>
public sealed class DomainList
{
    private readonly HashSet<string> _exact = new(StringComparer.OrdinalIgnoreCase);
    // Stored without the leading dot: "example.com" for ".example.com".
    private readonly HashSet<string> _suffixes = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _exactLookup;
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _suffixLookup;

    public DomainList()
    {
        _exactLookup = _exact.GetAlternateLookup<ReadOnlySpan<char>>();
        _suffixLookup = _suffixes.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int Count => _exact.Count + _suffixes.Count;

    /// <summary>Adds one entry; returns an error sentence (quoting the entry) for a value that is not a domain name.</summary>
    public string? Add(string entry) => TryAdd(entry) ? null : $"'{entry}' {NotADomain}";

    private const string NotADomain = "is not a domain name (examples: example.com, .example.com)";

    private bool TryAdd(string entry)
    {
        var e = entry.Trim().TrimEnd('.');
        bool suffix = e.StartsWith('.');
        var name = suffix ? e[1..] : e;
        if (name.Length == 0 || name.Length > 253 || !IsDomainOrAddress(name)) return false;
        (suffix ? _suffixes : _exact).Add(name.ToLowerInvariant());
        return true;
    }

    public bool Matches(ReadOnlySpan<char> host)
    {
        if (host.EndsWith(".")) host = host[..^1];
        if (_exactLookup.Contains(host) || _suffixLookup.Contains(host)) return true;
        if (_suffixes.Count == 0) return false;
        for (int i = 0; i < host.Length; i++)
            if (host[i] == '.' && _suffixLookup.Contains(host[(i + 1)..])) return true;
        return false;
    }

    private static bool IsDomainOrAddress(string name)
    {
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':' or '*')) return false;
        return !name.Contains("..", StringComparison.Ordinal);
    }

    /// <summary>
    /// Reads a list file: one entry per line, blank lines and '#' comments ignored. The file is read bounded
    /// (<see cref="ListFiles.MaxBytes"/>); an error names the file as <paramref name="shownAs"/> and a bad line by
    /// its number only, never its content (the file may not be what the rule's author meant to expose).
    /// </summary>
    public static string? LoadFile(string path, DomainList into, string? shownAs = null)
    {
        shownAs ??= path;
        if (ListFiles.ReadLines(path, shownAs, out var lines) is { } error) return error;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            line = line.Trim();
            if (line.Length == 0) continue;
            if (!into.TryAdd(line)) return $"{shownAs} line {i + 1}: not a domain name (letters, digits, '-', '_', '.' only; examples: example.com, .example.com)";
        }
        return null;
    }
}
