using System.Net;
using System.Net.Sockets;
using System.Text;
using CacheCluster.Node.Tests.Proxy;

namespace CacheCluster.Node.Tests.Support;

/// <summary>
/// An origin that answers every connection with scripted raw bytes: for responses no real server would send
/// (conflicting framing, a body cut short, a stall mid-body). Each connection gets one response, then the
/// script decides whether to close. Counts the requests it saw.
/// </summary>
public sealed class RawOrigin : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly Func<string, NetworkStream, CancellationToken, Task> _script;
    private int _requests;

    /// <param name="script">Given the request head and the connection: writes the response (and may wait, or just return to close).</param>
    public RawOrigin(Func<string, NetworkStream, CancellationToken, Task> script)
    {
        _script = script;
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = Task.Run(AcceptAsync);
    }

    /// <summary>An origin that always sends <paramref name="response"/> (Latin-1) and closes.</summary>
    public static RawOrigin Always(string response) =>
        new(async (_, s, ct) => { await s.WriteAsync(Encoding.Latin1.GetBytes(response), ct); await s.FlushAsync(ct); });

    public int Port { get; }
    public int Requests => Volatile.Read(ref _requests);
    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    private async Task AcceptAsync()
    {
        var open = new List<Task>();
        while (!_stop.IsCancellationRequested && open.Count < 1000)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { break; }
            open.Add(Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        var stream = client.GetStream();
                        var head = await RawExchange.ReadHeadAsync(stream);
                        if (head.Length == 0) return;
                        Interlocked.Increment(ref _requests);
                        await _script(head, stream, _stop.Token);
                    }
                    catch (Exception) { /* the proxy went away, or the test ended */ }
                }
            }));
        }
        try { await Task.WhenAll(open).WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try { await _accepting.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception) { }
        _stop.Dispose();
    }
}
