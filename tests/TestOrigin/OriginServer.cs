using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CacheCluster.TestOrigin;

/// <summary>
/// A scriptable origin web server on 127.0.0.1 (or a test network address, <see cref="OriginOptions.Address"/>; Kestrel). Endpoints are described in tests/TestOrigin/README.md.
/// Every request is counted and recorded before its response starts, so a test can assert on
/// <see cref="RequestCount(string)"/> as soon as it has the response headers.
/// </summary>
public sealed partial class OriginServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly OriginState _state;
    private int _disposed;

    private OriginServer(WebApplication app, OriginState state, Uri httpBase, Uri? httpsBase, X509Certificate2? certificate)
    {
        _app = app;
        _state = state;
        HttpBase = httpBase;
        HttpsBase = httpsBase;
        Certificate = certificate;
    }

    /// <summary>Starts an origin on 127.0.0.1: HTTP always, HTTPS when <see cref="OriginOptions.EnableHttps"/>.</summary>
    public static async Task<OriginServer> StartAsync(OriginOptions? options = null, CancellationToken ct = default)
    {
        options ??= new OriginOptions();
        var certificate = options.EnableHttps ? SelfSignedCertificate.Create() : null;

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(OriginServer).Assembly.GetName().Name,
        });
        // No Ctrl+C / SIGTERM hooks from the host: in tests the host process is not ours; Program handles signals.
        builder.Services.AddSingleton<IHostLifetime, NoopHostLifetime>();
        if (options.ConsoleLogLevel is { } level)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Logging.SetMinimumLevel(level);
        }

        builder.WebHost.UseKestrelCore();
        if (certificate is not null) builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Scripted responses may carry obs-text (RFC 9110 5.5) in header values: send such bytes as Latin-1.
            k.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
            k.Limits.MaxRequestBodySize = null;
            k.Limits.MinRequestBodyDataRate = null;
            k.Limits.MinResponseDataRate = null;
            k.Limits.MaxRequestLineSize = 64 * 1024;
            k.Limits.MaxRequestHeadersTotalSize = 256 * 1024;
            k.Listen(options.Address, options.Port, l => l.Protocols = HttpProtocols.Http1);
            if (certificate is not null)
            {
                k.Listen(IPAddress.Loopback, options.HttpsPort, l =>
                {
                    l.Protocols = HttpProtocols.Http1AndHttp2;
                    l.UseHttps(certificate);
                });
            }
        });

        var app = builder.Build();
        var state = new OriginState(Math.Max(0, options.MaxRecordedRequests), DateTimeOffset.UtcNow);
        app.Run(context => OriginHandlers.HandleAsync(context, state));

        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            certificate?.Dispose();
            throw;
        }

        Uri? http = null, https = null;
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        foreach (var address in addresses)
        {
            var uri = new Uri(address);
            var host = options.Address.Equals(IPAddress.Loopback) || uri.Scheme == Uri.UriSchemeHttps ? "127.0.0.1" : options.Address.ToString();
            var normalised = new Uri($"{uri.Scheme}://{host}:{uri.Port}/");
            if (uri.Scheme == Uri.UriSchemeHttps) https = normalised; else http = normalised;
        }
        if (http is null)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("Kestrel reported no HTTP address: " + string.Join(", ", addresses));
        }
        return new OriginServer(app, state, http, https, certificate);
    }

    /// <summary>e.g. http://127.0.0.1:PORT/</summary>
    public Uri HttpBase { get; }

    /// <summary>e.g. https://127.0.0.1:PORT/ (certificate valid for localhost, 127.0.0.1 and ::1), or null.</summary>
    public Uri? HttpsBase { get; }

    /// <summary>The self-signed server certificate when HTTPS is enabled.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>HTTP URL for an origin-form path and query, e.g. <c>Url("/bytes/1k?seed=2")</c>.</summary>
    public Uri Url(string pathAndQuery) => new(HttpBase, pathAndQuery);

    /// <summary>HTTPS URL for an origin-form path and query.</summary>
    public Uri HttpsUrl(string pathAndQuery) =>
        new(HttpsBase ?? throw new InvalidOperationException("HTTPS is not enabled"), pathAndQuery);

    /// <summary>True if <paramref name="certificate"/> is this origin's certificate (for a test's validation callback).</summary>
    public bool IsOriginCertificate(X509Certificate? certificate) =>
        Certificate is not null && certificate is not null &&
        certificate.GetCertHashString() == Certificate.GetCertHashString();

    /// <summary>How many requests (any method, either listener) arrived for exactly this origin-form path and query.</summary>
    public int RequestCount(string pathAndQuery) => _state.Count(pathAndQuery);

    /// <summary>How many requests with this method arrived for exactly this origin-form path and query.</summary>
    public int RequestCount(string method, string pathAndQuery) => _state.Count(method.ToUpperInvariant() + " " + pathAndQuery);

    /// <summary>All requests since start or the last <see cref="Reset"/>.</summary>
    public int TotalRequests => _state.Total;

    /// <summary>Responses whose body could not be written to the end because the client went away.</summary>
    public int AbortedResponses => _state.Aborted;

    /// <summary>Responses whose body was written to the end (bodies of HEAD and 304 count as complete).</summary>
    public int CompletedResponses => _state.Completed;

    /// <summary>The recorded requests, oldest first (at most <see cref="OriginOptions.MaxRecordedRequests"/>).</summary>
    public IReadOnlyList<RecordedRequest> Requests => _state.Snapshot();

    /// <summary>Recorded requests for exactly this origin-form path and query.</summary>
    public IReadOnlyList<RecordedRequest> RequestsFor(string pathAndQuery) =>
        _state.Snapshot().Where(r => r.PathAndQuery == pathAndQuery).ToArray();

    /// <summary>Clears counters and recorded requests.</summary>
    public void Reset() => _state.Reset();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        // Do not wait for dribbling responses: abort what is still running after a short grace period.
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
        {
            try { await _app.StopAsync(grace.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        Certificate?.Dispose();
    }

    private sealed class NoopHostLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
