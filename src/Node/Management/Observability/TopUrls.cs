namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// What is hot on this node now: requests, hits and bytes per URL and per host, approximately. Counts decay
/// (halved every <see cref="HalfLife"/>) so the list follows current traffic; each table is bounded (pruned to
/// the <see cref="Keep"/> largest when it reaches twice that), so a long tail of one-off URLs costs bounded
/// memory, and a URL that just arrived can be pruned before it shows: the top of the list is what counts.
/// </summary>
public sealed class TopUrls(TimeProvider? time = null)
{
    public const int Keep = 1000;
    public static readonly TimeSpan HalfLife = TimeSpan.FromMinutes(1);

    public readonly record struct Item(string Key, double Requests, double Hits, double Bytes);

    private sealed class Counts { public double Requests, Hits, Bytes; }

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Counts> _urls = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Counts> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private long _lastDecay = -1;

    public void Count(string url, bool hit, long bytes)
    {
        var host = HostOf(url);
        lock (_gate)
        {
            Decay();
            Add(_urls, url, hit, bytes);
            if (host.Length > 0) Add(_hosts, host, hit, bytes);
        }
    }

    /// <summary>The <paramref name="limit"/> largest by requests (or by bytes).</summary>
    public (Item[] Urls, Item[] Hosts) Top(int limit, bool byBytes)
    {
        lock (_gate)
        {
            Decay();
            return (Largest(_urls, limit, byBytes), Largest(_hosts, limit, byBytes));
        }
    }

    private static Item[] Largest(Dictionary<string, Counts> table, int limit, bool byBytes) =>
        [.. table.OrderByDescending(kv => byBytes ? kv.Value.Bytes : kv.Value.Requests).Take(limit)
            .Select(kv => new Item(kv.Key, kv.Value.Requests, kv.Value.Hits, kv.Value.Bytes))];

    private static void Add(Dictionary<string, Counts> table, string key, bool hit, long bytes)
    {
        if (!table.TryGetValue(key, out var c))
        {
            if (table.Count >= 2 * Keep) Prune(table);
            table[key] = c = new Counts();
        }
        c.Requests++;
        if (hit) c.Hits++;
        c.Bytes += bytes;
    }

    private static void Prune(Dictionary<string, Counts> table)
    {
        foreach (var key in table.OrderBy(kv => kv.Value.Requests).Take(table.Count - Keep).Select(kv => kv.Key).ToList()) table.Remove(key);
    }

    /// <summary>Halves every count once per half-life that passed (whole periods: cheap and exact enough).</summary>
    private void Decay()
    {
        long period = (long)(_time.GetUtcNow().ToUnixTimeMilliseconds() / HalfLife.TotalMilliseconds);
        if (_lastDecay < 0) { _lastDecay = period; return; }
        if (period == _lastDecay) return;
        double factor = Math.Pow(0.5, Math.Min(64, period - _lastDecay));
        _lastDecay = period;
        foreach (var table in new[] { _urls, _hosts })
        {
            foreach (var (key, c) in table.ToList())
            {
                c.Requests *= factor; c.Hits *= factor; c.Bytes *= factor;
                if (c.Requests < 0.5) table.Remove(key);
            }
        }
    }

    /// <summary>The host[:port] of an absolute URL, or of a CONNECT target (host:port); empty if none.</summary>
    public static string HostOf(string url)
    {
        int start = url.IndexOf("://", StringComparison.Ordinal);
        start = start < 0 ? 0 : start + 3;
        int end = url.IndexOfAny(['/', '?', '#'], start);
        return end < 0 ? url[start..] : url[start..end];
    }
}
