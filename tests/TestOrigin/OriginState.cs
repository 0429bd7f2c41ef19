using System.Collections.Concurrent;

namespace CacheCluster.TestOrigin;

/// <summary>Counters and the request log shared by the handlers and <see cref="OriginServer"/>.</summary>
internal sealed partial class OriginState(int maxRecorded, DateTimeOffset startedAt)
{
    private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedRequest> _log = new();
    private long _sequence;
    private int _total;
    private int _aborted;
    private int _completed;

    /// <summary>Anchor for <c>lm=</c>: Last-Modified is this instant minus lm seconds, so it is stable across requests.</summary>
    public DateTimeOffset StartedAt { get; } = startedAt;

    public int Total => Volatile.Read(ref _total);
    public int Aborted => Volatile.Read(ref _aborted);
    public int Completed => Volatile.Read(ref _completed);

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    public void Record(RecordedRequest request)
    {
        Interlocked.Increment(ref _total);
        _counts.AddOrUpdate(request.PathAndQuery, 1, static (_, n) => n + 1);
        _counts.AddOrUpdate(request.Method + " " + request.PathAndQuery, 1, static (_, n) => n + 1);
        if (maxRecorded == 0) return;
        _log.Enqueue(request);
        while (_log.Count > maxRecorded && _log.TryDequeue(out _)) { }
    }

    public int Count(string key) => _counts.TryGetValue(key, out var n) ? n : 0;

    public void ResponseAborted() => Interlocked.Increment(ref _aborted);
    public void ResponseCompleted() => Interlocked.Increment(ref _completed);

    public RecordedRequest[] Snapshot() => _log.ToArray();

    public void Reset()
    {
        _counts.Clear();
        _log.Clear();
        Interlocked.Exchange(ref _total, 0);
        Interlocked.Exchange(ref _aborted, 0);
        Interlocked.Exchange(ref _completed, 0);
        Interlocked.Exchange(ref _sequence, 0);
    }
}
