using System.Net;
using System.Net.Sockets;

namespace CacheCluster.Tests.Support;

/// <summary>
/// Forwards TCP connections from <see cref="EndPoint"/> (an address of a test network) to a loopback service, so hosts in
/// network namespaces reach e.g. the test PostgreSQL, which listens on 127.0.0.1 only. A connection whose target
/// refuses is closed at once, as a database proxy would.
/// </summary>
public sealed class TcpForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly List<TcpClient> _open = [];

    public IPEndPoint EndPoint { get; }

    public TcpForwarder(IPAddress listenOn, IPEndPoint target)
    {
        _target = target;
        _listener = new TcpListener(listenOn, 0);
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _accepting = AcceptAsync();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient inbound;
            try { inbound = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            _ = Task.Run(() => PairAsync(inbound));
        }
    }

    private async Task PairAsync(TcpClient inbound)
    {
        using var outbound = new TcpClient();
        using (inbound)
        {
            try
            {
                using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                connect.CancelAfter(TimeSpan.FromSeconds(5));
                await outbound.ConnectAsync(_target, connect.Token);
                lock (_open) { _open.Add(inbound); _open.Add(outbound); }
                var a = inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token);
                var b = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
                await Task.WhenAny(a, b);
            }
            catch (Exception) { } // either side went away, or the target refused: close both
            finally { lock (_open) { _open.Remove(inbound); _open.Remove(outbound); } }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open) foreach (var c in _open) c.Dispose();
        try { await _accepting; } catch (Exception) { }
    }
}
