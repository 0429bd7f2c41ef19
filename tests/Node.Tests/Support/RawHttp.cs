using System.Net;
using System.Net.Sockets;
using System.Text;

namespace CacheCluster.Node.Tests.Support;

/// <summary>Raw bytes to a listener and the response head back: for requests no HTTP client would send.</summary>
public static class RawHttp
{
    /// <summary>Sends <paramref name="request"/> and returns the status code (0 if the server closed without answering) and the head.</summary>
    public static async Task<(int Status, string Head)> SendAsync(int port, byte[] request, TimeSpan? timeout = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        try { await stream.WriteAsync(request); }
        catch (IOException) { }
        return await ReadHeadAsync(stream, timeout ?? TimeSpan.FromSeconds(20));
    }

    public static Task<(int Status, string Head)> SendAsync(int port, string request, TimeSpan? timeout = null) =>
        SendAsync(port, Encoding.Latin1.GetBytes(request), timeout);

    /// <summary>The head is in, and the body too when Content-Length announces one.</summary>
    private static bool Complete(string text)
    {
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return false;
        foreach (var line in text[..end].Split("\r\n"))
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase) && int.TryParse(line.AsSpan(15).Trim(), out var length))
                return text.Length >= end + 4 + length;
        return true;
    }

    /// <summary>Reads a response head (and its Content-Length body): the status (0 when none came) and the text.</summary>
    public static async Task<(int Status, string Head)> ReadHeadAsync(Stream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[64 * 1024];
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = await stream.ReadAsync(buffer.AsMemory(total), cts.Token);
                if (n == 0) break;
                total += n;
                if (Complete(Encoding.Latin1.GetString(buffer, 0, total))) break;
            }
        }
        catch (IOException) { }
        var text = Encoding.Latin1.GetString(buffer, 0, total);
        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = end >= 0 ? text[..end] : text;
        if (head.StartsWith("HTTP/1.") && head.Length >= 12 && int.TryParse(head.AsSpan(9, 3), out var status)) return (status, text);
        return (0, text);
    }
}
