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
    /// Peeks at the first bytes the client sends into the tunnel: the name to bump, or null to splice. Whatever was
    /// read stays unconsumed in <paramref name="input"/>.
    /// </summary>
    public async Task<string?> DecideAsync(PipeReader input, string connectHost, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_settings.PeekTimeout);
        // Bounded: each round needs more bytes than the last, and ClientHello.MaxBytes ends it.
        for (int round = 0; round < 64; round++)
        {
            ReadResult result;
            try { result = await input.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) { return null; } // a silent client: server-speaks-first protocols are spliced
            var buffer = result.Buffer;
            var status = ClientHello.TryRead(buffer, out var sni);
            // Examined but not consumed: the next reader (origin or TLS server) gets every byte.
            input.AdvanceTo(buffer.Start, buffer.End);
            if (status == HelloStatus.NotTls) return null;
            if (status == HelloStatus.Complete)
            {
                var name = sni ?? connectHost.ToLowerInvariant();
                return ShouldBump(name, connectHost) ? name : null;
            }
            if (result.IsCompleted || result.IsCanceled) return null;
        }
        return null;
    }

    /// <summary>
    /// Serves a bumped tunnel: hands the client's connection to Kestrel's internal TLS endpoint and waits until Kestrel
    /// is done with it. False when the server is stopping (the caller then closes the connection).
    /// </summary>
    public async Task<bool> ServeAsync(ConnectionContext outer, BumpTarget target, ProxyRequestInfo? info, CancellationToken ct)
    {
        var connection = new BumpedConnection(outer, target);
        if (info is not null) info.Bumped = true;
        if (!await listener.OfferAsync(connection, ct)) return false;
        logger.LogDebug("CONNECT {Host}:{Port} bumped", target.Host, target.Port);
        await connection.Finished;
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
