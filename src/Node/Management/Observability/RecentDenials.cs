using CacheCluster.Contracts.Management;

namespace CacheCluster.Node.Management.Observability;

/// <summary>
/// The last refusals of this node's proxy (newest first on read), for the dashboard. Only a denial costs
/// anything here (one small record under a lock), so a scan that is refused stays cheap.
/// </summary>
public sealed class RecentDenials
{
    public const int Keep = 32;
    private readonly DenialRecord[] _ring = new DenialRecord[Keep];
    private int _next, _count;
    private readonly Lock _gate = new();

    public void Add(DenialRecord denial)
    {
        lock (_gate)
        {
            _ring[_next] = denial;
            _next = (_next + 1) % Keep;
            _count = Math.Min(_count + 1, Keep);
        }
    }

    public DenialRecord[] Newest(int max)
    {
        lock (_gate)
        {
            int n = Math.Min(Math.Clamp(max, 0, Keep), _count);
            var list = new DenialRecord[n];
            for (int i = 0; i < n; i++) list[i] = _ring[(_next - 1 - i + Keep) % Keep];
            return list;
        }
    }
}
