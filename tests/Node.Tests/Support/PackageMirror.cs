using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Node.Tests.Support;

/// <summary>
/// A package mirror on 127.0.0.1 that serves a folder the way the issue saw Debian's mirrors answer: 200 with
/// Content-Type and Content-Length only — no Cache-Control, no Expires, no Last-Modified, no ETag (404 for what
/// is missing). Counts the requests per path.
/// </summary>
public sealed class PackageMirror : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);

    private PackageMirror(WebApplication app) => _app = app;

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Requests that reached the mirror for <paramref name="path"/> (e.g. "/debian/Packages").</summary>
    public int Requests(string path) => _hits.TryGetValue(path, out var n) ? n : 0;

    public IReadOnlyDictionary<string, int> AllRequests => _hits;

    public static async Task<PackageMirror> StartAsync(string root)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => { k.AddServerHeader = false; k.Listen(IPAddress.Loopback, 0); });
        builder.Services.AddRoutingCore();
        var app = builder.Build();
        var mirror = new PackageMirror(app);
        app.Run(async ctx =>
        {
            var path = ctx.Request.Path.Value ?? "/";
            mirror._hits.AddOrUpdate(path, 1, (_, n) => n + 1);
            var file = Path.GetFullPath(Path.Combine(root, path.TrimStart('/')));
            if (!file.StartsWith(Path.GetFullPath(root), StringComparison.Ordinal) || !File.Exists(file))
            {
                ctx.Response.StatusCode = 404;
                return;
            }
            var bytes = await File.ReadAllBytesAsync(file);
            ctx.Response.ContentType = file.EndsWith(".deb", StringComparison.Ordinal) ? "application/vnd.debian.binary-package" : "text/plain";
            ctx.Response.ContentLength = bytes.Length;
            if (!HttpMethods.IsHead(ctx.Request.Method)) await ctx.Response.Body.WriteAsync(bytes);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        mirror.BaseUri = new Uri(address.Replace("[::]", "127.0.0.1") + "/");
        return mirror;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
