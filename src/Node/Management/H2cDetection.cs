using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace CacheCluster.Node.Management;

/// <summary>
/// One cleartext port for gRPC (HTTP/2 with prior knowledge, h2c) and plain HTTP/1.1 (/metrics, /healthz).
/// Kestrel serves only HTTP/1.1 on a cleartext Http1AndHttp2 endpoint (no way to tell without ALPN;
/// dotnet/aspnetcore#56984). This connection middleware peeks at the first bytes: an HTTP/2 client preface
/// starts with "PRI * HTTP/2.0", which no HTTP/1.1 request does. For those connections it tells Kestrel
/// "h2" the way TLS ALPN would (a TLS-less ALPN feature), so Kestrel picks HTTP/2; nothing is consumed.
/// </summary>
public static class H2cDetection
{
    private static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(15);
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    public static Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async connection =>
    {
        var input = connection.Transport.Input;
        long examined = 0;
        bool http2 = false;
        // Kestrel's own timeouts start only after this: a client that connects and says nothing is dropped here.
        using var quiet = new CancellationTokenSource(FirstBytesTimeout);
        while (true)
        {
            ReadResult result;
            try { result = await input.ReadAsync(quiet.Token); }
            catch (OperationCanceledException) { return; }
            var buffer = result.Buffer;
            var verdict = Check(buffer);
            if (verdict == 0 && !result.IsCompleted && !result.IsCanceled)
            {
                // Could still be a preface: wait for more bytes (everything seen so far is examined).
                input.AdvanceTo(buffer.Start, buffer.End);
                examined = buffer.Length;
                continue;
            }
            http2 = verdict > 0;
            // Consume nothing; what was examined stays examined (it may never move back).
            input.AdvanceTo(buffer.Start, buffer.GetPosition(Math.Min(examined, buffer.Length)));
            break;
        }
        if (http2) connection.Features.Set<ITlsApplicationProtocolFeature>(PriorKnowledge.Instance);
        if (http2) connection.Features.Set<ITlsConnectionFeature>(PriorKnowledge.Instance);
        await next(connection);
    };

    /// <summary>1: a complete HTTP/2 preface; 0: a prefix of one so far; -1: not HTTP/2.</summary>
    private static int Check(in ReadOnlySequence<byte> buffer)
    {
        int n = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[Preface.Length];
        buffer.Slice(0, n).CopyTo(head);
        if (!head[..n].SequenceEqual(Preface.AsSpan(0, n))) return -1;
        return n == Preface.Length ? 1 : 0;
    }

    /// <summary>Says "h2" as ALPN would; there is no certificate (the connection is cleartext).</summary>
    private sealed class PriorKnowledge : ITlsApplicationProtocolFeature, ITlsConnectionFeature
    {
        public static readonly PriorKnowledge Instance = new();
        public ReadOnlyMemory<byte> ApplicationProtocol { get; } = "h2"u8.ToArray();
        public X509Certificate2? ClientCertificate { get => null; set { } }
        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
