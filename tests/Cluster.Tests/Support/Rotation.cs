using System.Net;

namespace CacheCluster.Cluster.Tests.Support;

/// <summary>
/// What a Kubernetes Service does for the tests' clients: a node gets requests only while its readiness probe
/// (/healthz/ready, every second, like the chart's probe with a shorter period) passes and it is not being
/// drained (preStop: the endpoint is removed before SIGTERM).
/// </summary>
public sealed class Rotation(HostsCluster cluster, IEnumerable<int> hosts)
{
    private readonly int[] _hosts = [.. hosts];
    private readonly HashSet<int> _ready = [.. hosts];
    private readonly HashSet<int> _drained = [];
    private int _turn;

    public bool Serves(int host) { lock (_ready) return _ready.Contains(host) && !_drained.Contains(host); }

    /// <summary>The next host for a worker, spread over the hosts in rotation; null when none is.</summary>
    public int? Pick()
    {
        lock (_ready)
        {
            var open = _hosts.Where(h => _ready.Contains(h) && !_drained.Contains(h)).ToArray();
            return open.Length == 0 ? null : open[(int)((uint)Interlocked.Increment(ref _turn) % open.Length)];
        }
    }

    public void Drain(int host) { lock (_ready) _drained.Add(host); }
    public void Restore(int host) { lock (_ready) _drained.Remove(host); }

    /// <summary>Probes every host each second until <paramref name="stop"/>.</summary>
    public async Task ProbeAsync(CancellationToken stop)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        while (!stop.IsCancellationRequested)
        {
            foreach (var h in _hosts)
            {
                bool ok;
                try
                {
                    using var r = await http.GetAsync(new Uri(cluster.ManagementUri(h), "healthz/ready"), stop);
                    ok = r.StatusCode == HttpStatusCode.OK;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { ok = false; }
                lock (_ready) { if (ok) _ready.Add(h); else _ready.Remove(h); }
            }
            try { await Task.Delay(1000, stop); } catch (OperationCanceledException) { }
        }
    }
}
