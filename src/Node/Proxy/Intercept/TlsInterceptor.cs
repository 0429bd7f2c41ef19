using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// Splice or bump (Squid's ssl-bump peek/splice/bump): after the CONNECT's 200, peek at the client's ClientHello
/// (nothing consumed); a host in Intercept:Bump and not in Intercept:NeverBump is bumped, everything else —
/// anything that is not TLS, a silent client, an unlisted host — is spliced (tunnelled untouched). A bumped tunnel
/// becomes a connection on Kestrel's internal endpoint (<see cref="BumpListener"/>), where TLS ends with a leaf
/// certificate for the host and the decrypted requests run through the node's usual pipeline as https:// URLs.
/// </summary>
public sealed class TlsInterceptor(NodeSettings settings, BumpListener listener, LeafCertificates leaves, ILogger<TlsInterceptor> logger)
{
    private readonly InterceptSettings _settings = settings.Intercept;

    public bool Enabled => _settings.Enabled;

    /// <summary>Whether a CONNECT to this host may be bumped at all (else it is spliced without a peek).</summary>
    public bool MayBump(string connectHost) => _settings.Enabled && !_settings.NeverBump.Matches(connectHost);

    /// <summary>Whether the name the client asked for is to be bumped.</summary>
    public bool ShouldBump(string name, string connectHost) =>
        !_settings.NeverBump.Matches(name) && !_settings.NeverBump.Matches(connectHost)
        && (_settings.BumpAll || _settings.Bump.Matches(name));

    /// <summary>
    /// Peeks at the first bytes the client sends into the tunnel: the name to bump (null: splice), and the input to
    /// use from now on, which gives the peeked bytes again first (<see cref="PeekedReader"/>).
    /// </summary>
    public async Task<(string? Name, PeekedReader Input)> DecideAsync(PipeReader input, string connectHost, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.PeekTimeout);
        // A cancelled read (not a cancelled token) still returns what the pipe holds, so it can be replayed.
        using var stop = timeout.Token.Register(input.CancelPendingRead);
        var seen = ReadOnlySequence<byte>.Empty;
        string? name = null;
        // Bounded: each round needs more bytes than the last, and ClientHello.MaxBytes ends it.
        for (int round = 0; round < 64; round++)
        {
            // Cancelled at the time limit: a silent or slow client is spliced (server-speaks-first protocols too).
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var status = ClientHello.TryRead(buffer, out var sni);
            if (status == HelloStatus.NeedMore && !result.IsCompleted && !result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start, buffer.End); // wait for more, consume nothing yet
                continue;
            }
            // Copied, then taken out of the connection's pipe: replayed to whoever takes the tunnel.
            seen = new ReadOnlySequence<byte>(buffer.ToArray());
            input.AdvanceTo(buffer.End);
            if (status == HelloStatus.Complete)
            {
                var asked = sni ?? connectHost.ToLowerInvariant();
                if (ShouldBump(asked, connectHost)) name = asked;
            }
            break;
        }
        return (name, seen.IsEmpty ? PeekedReader.AsIs(input) : PeekedReader.Replay(seen, input));
    }

    /// <summary>
    /// Serves a bumped tunnel: hands the client's connection to Kestrel's internal TLS endpoint and waits until Kestrel
    /// is done with it. False when the server is stopping (the caller then closes the connection).
    /// </summary>
    public async Task<bool> ServeAsync(ConnectionContext outer, PeekedReader input, BumpTarget target, ProxyRequestInfo? info, CancellationToken ct)
    {
        var connection = new BumpedConnection(outer, input.Reader, target);
        if (info is not null) info.Bumped = true;
        if (!await listener.OfferAsync(connection, ct)) return false;
        logger.LogDebug("CONNECT {Host}:{Port} bumped", target.Host, target.Port);
        await connection.Finished;
        // Kestrel closed the connection (Connection: close, a timeout): what it wrote last must reach the client before
        // the caller aborts the socket, so flush and wait for the client to close its side (bounded, as tunnels do).
        await outer.Transport.Output.CompleteAsync();
        if (await Task.WhenAny(input.Drained, Task.Delay(TimeSpan.FromSeconds(10))) != input.Drained)
            outer.Transport.Input.CancelPendingRead();
        return true;
    }

    /// <summary>TLS options for a bumped connection (Kestrel's handshake callback): the host's leaf certificate, HTTP/1.1.</summary>
    public async ValueTask<SslServerAuthenticationOptions> HandshakeAsync(TlsHandshakeCallbackContext context)
    {
        var target = context.Connection.Items.TryGetValue(BumpTarget.ItemKey, out var v) && v is BumpTarget t ? t
            : throw new InvalidOperationException("a connection on the bump endpoint without its target");
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = await leaves.GetAsync(target.Host),
            // The decrypted requests go through the HTTP/1.1 pipeline; clients that offer h2 fall back to it.
            ApplicationProtocols = [SslApplicationProtocol.Http11],
            ClientCertificateRequired = false,
        };
    }
}
