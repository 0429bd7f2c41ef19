using System.Net.Security;
using System.Text;
using CacheCluster.Node.Proxy.Intercept;

namespace CacheCluster.Node.Tests.Proxy.Intercept;

public class ClientHelloTests
{
    /// <summary>The first flight a real TLS client (.NET's SslStream over OpenSSL) sends for <paramref name="targetHost"/>.</summary>
    private static async Task<byte[]> RealClientHelloAsync(string targetHost)
    {
        var capture = new CaptureStream();
        var tls = new SslStream(capture);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = targetHost }, cts.Token);
        await capture.FirstWrite.Task.WaitAsync(TimeSpan.FromSeconds(10));
        cts.Cancel();
        try { await handshake; } catch (Exception) { /* no server: expected */ }
        return capture.Written.ToArray();
    }

    [Fact]
    public async Task The_server_name_of_a_real_client_hello_is_read()
    {
        var hello = await RealClientHelloAsync("WWW.Example.org");
        Assert.Equal(HelloStatus.Complete, ClientHello.TryRead(hello, out var name));
        Assert.Equal("www.example.org", name);
    }

    [Fact]
    public async Task A_client_hello_for_an_address_has_no_server_name()
    {
        var hello = await RealClientHelloAsync("127.0.0.1");
        Assert.Equal(HelloStatus.Complete, ClientHello.TryRead(hello, out var name));
        Assert.Null(name);
    }

    [Fact]
    public async Task Every_prefix_of_a_client_hello_asks_for_more()
    {
        var hello = await RealClientHelloAsync("cdn.example.net");
        for (int n = 0; n < hello.Length; n += 7)
            Assert.Equal(HelloStatus.NeedMore, ClientHello.TryRead(hello.AsSpan(0, n), out _));
    }

    [Fact]
    public async Task A_client_hello_split_over_two_records_is_read()
    {
        var hello = await RealClientHelloAsync("split.example");
        var body = hello.AsSpan(5).ToArray(); // the handshake message
        int cut = body.Length / 2;
        byte[] Record(ReadOnlySpan<byte> part) => [22, 3, 1, (byte)(part.Length >> 8), (byte)part.Length, .. part];
        byte[] split = [.. Record(body.AsSpan(0, cut)), .. Record(body.AsSpan(cut))];
        Assert.Equal(HelloStatus.Complete, ClientHello.TryRead(split, out var name));
        Assert.Equal("split.example", name);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n")]
    public void Other_protocols_are_not_tls(string text) =>
        Assert.Equal(HelloStatus.NotTls, ClientHello.TryRead(Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public void A_handshake_record_that_is_not_a_client_hello_is_not_taken_for_one() =>
        Assert.Equal(HelloStatus.NotTls, ClientHello.TryRead([22, 3, 3, 0, 4, 2, 0, 0, 0], out _));

    /// <summary>Records what the TLS client writes; reads never complete until cancelled.</summary>
    private sealed class CaptureStream : Stream
    {
        public MemoryStream Written { get; } = new();
        public TaskCompletionSource FirstWrite { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        }
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override void Write(byte[] buffer, int offset, int count) { Written.Write(buffer, offset, count); FirstWrite.TrySetResult(); }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            Written.Write(buffer.Span);
            FirstWrite.TrySetResult();
            return ValueTask.CompletedTask;
        }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) => WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
