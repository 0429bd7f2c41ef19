using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Threading.Channels;
using CacheCluster.Contracts.Management;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Management.AccessLog;

/// <summary>
/// This node's access-log records for live watchers (<c>cachectl log</c>), whether or not AccessLog:Path is set.
/// Each watcher has a bounded buffer filled from the request path and emptied by its polls: a slow watcher
/// loses lines (counted), the proxy never waits. With nobody watching, <see cref="Watched"/> is false and the
/// request path builds no record for it at all.
/// </summary>
public sealed class LiveAccessLog(NodeSettings settings) : IDisposable
{
    /// <summary>Lines kept per watcher between polls (a poll comes every half second or so).</summary>
    public const int BufferLines = 4096;

    /// <summary>A watcher that has not polled for this long has gone (its client vanished without a goodbye).</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(15);

    private sealed class Watcher
    {
        public readonly Matcher Matcher;
        public long Dropped;
        public long LastPoll = Environment.TickCount64;
        public readonly Channel<AccessRecord> Lines;

        public Watcher(Matcher matcher)
        {
            Matcher = matcher;
            // DropWrite: TryWrite still says true when full; the callback is how a drop is seen.
            Lines = Channel.CreateBounded<AccessRecord>(new BoundedChannelOptions(BufferLines) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true },
                _ => Interlocked.Increment(ref Dropped));
        }
    }

    private readonly ConcurrentDictionary<Guid, Watcher> _watchers = new();
    private readonly Lock _gate = new();
    private Timer? _sweeper;
    private volatile bool _watched;

    /// <summary>Somebody watches: the request path should hand records over.</summary>
    public bool Watched => _watched;

    public int Watchers => _watchers.Count;

    public void Publish(AccessRecord record)
    {
        foreach (var w in _watchers.Values)
            if (w.Matcher.Matches(record)) w.Lines.Writer.TryWrite(record);
    }

    /// <summary>The lines buffered for <paramref name="id"/>; its first poll registers it (with its filter).</summary>
    public LogBatch Poll(Guid id, LogFilter filter, int max)
    {
        if (!_watchers.TryGetValue(id, out var w))
        {
            var matcher = Matcher.Parse(filter); // bad filters were refused by the API already; this throws for direct callers
            lock (_gate)
            {
                w = _watchers.GetOrAdd(id, _ => new Watcher(matcher));
                _watched = true;
                _sweeper ??= new Timer(_ => Sweep(), null, Idle, Idle);
            }
        }
        Volatile.Write(ref w.LastPoll, Environment.TickCount64);
        var lines = new List<LogLine>(Math.Min(max, 256));
        var sb = new StringBuilder(256);
        var strip = settings.AccessLog.StripQuery;
        while (lines.Count < max && w.Lines.Reader.TryRead(out var r))
        {
            sb.Clear();
            r.WriteSquid(sb, strip);
            lines.Add(new LogLine(r.Time.ToUnixTimeMilliseconds(), Math.Round(r.Elapsed.TotalMilliseconds, 3), r.Client,
                r.Outcome.ToString().ToLowerInvariant(), r.SquidCode, r.Status, r.Bytes, r.Method, r.LoggedUrl(strip), r.User,
                r.Hierarchy, r.Peer, r.ContentType, r.CacheStatus, sb.ToString()));
        }
        return new LogBatch([.. lines], Interlocked.Exchange(ref w.Dropped, 0));
    }

    public void Stop(Guid id)
    {
        _watchers.TryRemove(id, out _);
        Quiet();
    }

    private void Sweep()
    {
        long now = Environment.TickCount64;
        foreach (var (id, w) in _watchers)
            if (now - Volatile.Read(ref w.LastPoll) > Idle.TotalMilliseconds) _watchers.TryRemove(id, out _);
        Quiet();
    }

    /// <summary>The last watcher gone: back to costing nothing.</summary>
    private void Quiet()
    {
        lock (_gate)
        {
            if (!_watchers.IsEmpty) return;
            _watched = false;
            _sweeper?.Dispose();
            _sweeper = null;
        }
    }

    public void Dispose()
    {
        lock (_gate) { _sweeper?.Dispose(); _sweeper = null; }
    }

    /// <summary>A watcher's filter, parsed once.</summary>
    public sealed class Matcher
    {
        private readonly HashSet<RequestOutcome>? _outcomes;
        private readonly string? _host;
        private readonly IPNetwork? _client;

        private Matcher(HashSet<RequestOutcome>? outcomes, string? host, IPNetwork? client) => (_outcomes, _host, _client) = (outcomes, host, client);

        /// <summary>Throws <see cref="ArgumentException"/> naming the bad field.</summary>
        public static Matcher Parse(LogFilter f)
        {
            HashSet<RequestOutcome>? outcomes = null;
            foreach (var o in f.Outcomes)
            {
                if (!Enum.TryParse<RequestOutcome>(o.Trim(), ignoreCase: true, out var outcome) || !Enum.IsDefined(outcome) || int.TryParse(o, out _))
                    throw new ArgumentException($"outcomes: unknown outcome '{o}' (known: {string.Join(", ", Enum.GetNames<RequestOutcome>().Select(n => n.ToLowerInvariant()))})");
                (outcomes ??= []).Add(outcome);
            }
            string? host = string.IsNullOrWhiteSpace(f.Host) ? null : f.Host.Trim().ToLowerInvariant();
            if (host is not null && (host.Contains('/') || host.Contains(' ')))
                throw new ArgumentException($"host: '{f.Host}' is not a host name (examples: example.org, example.org:8080)");
            IPNetwork? client = null;
            if (!string.IsNullOrWhiteSpace(f.Client))
            {
                var c = f.Client.Trim();
                if (IPAddress.TryParse(c, out var ip)) { ip = PeerAddresses.Normalise(ip); client = new IPNetwork(ip, ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128); }
                else if (IPNetwork.TryParse(c, out var net)) client = net;
                else throw new ArgumentException($"client: '{f.Client}' is not an IP address or CIDR network (examples: 10.0.0.7, 10.0.0.0/8, ::1)");
            }
            return new Matcher(outcomes, host, client);
        }

        public bool Matches(AccessRecord r)
        {
            if (_outcomes is not null && !_outcomes.Contains(r.Outcome)) return false;
            if (_host is not null)
            {
                // "example.org" matches every port of it; "example.org:8080" only that one.
                var h = TopUrls.HostOf(r.Url);
                if (!h.Equals(_host, StringComparison.OrdinalIgnoreCase)
                    && !(h.Length > _host.Length && h[_host.Length] == ':' && h.StartsWith(_host, StringComparison.OrdinalIgnoreCase)))
                    return false;
            }
            if (_client is { } net && !(IPAddress.TryParse(r.Client, out var ip) && net.Contains(ip))) return false;
            return true;
        }
    }
}
