using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace CacheCluster.Node.Management.Dashboard;

/// <summary>
/// The dashboard's static files, embedded in the node's assembly (Dashboard/wwwroot; no front-end build
/// step): read once, served with an ETag so a reload costs a 304.
/// </summary>
public static class DashboardFiles
{
    private const string Prefix = "dashboard/";

    private sealed record File(byte[] Content, string ContentType, string ETag);

    private static readonly FrozenDictionary<string, File> Files = Load();

    private static FrozenDictionary<string, File> Load()
    {
        var assembly = typeof(DashboardFiles).Assembly;
        var files = new Dictionary<string, File>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes).AsSpan(0, 8)) + "\"";
            files[name[Prefix.Length..].Replace('\\', '/')] = new File(bytes, ContentType(name), etag);
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static string ContentType(string name) => Path.GetExtension(name) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    };

    public static IResult Serve(HttpContext ctx, string? path)
    {
        var name = string.IsNullOrEmpty(path) ? "index.html" : path;
        if (!Files.TryGetValue(name, out var file))
            return Results.Text($"not found: /ui/{name}\n", statusCode: StatusCodes.Status404NotFound);
        var headers = ctx.Response.Headers;
        headers.ETag = file.ETag;
        headers.CacheControl = "no-cache"; // revalidate: a node upgrade must not leave an old page behind
        headers.XContentTypeOptions = "nosniff";
        headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";
        headers["Referrer-Policy"] = "no-referrer";
        if (ctx.Request.Headers.IfNoneMatch == file.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(file.Content, file.ContentType);
    }
}
