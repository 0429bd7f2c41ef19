using System.Net;
namespace CacheCluster.Node.Proxy;

/// <summary>How an origin response's body is delimited (RFC 9112 6.3), which decides whether it can be stored.</summary>
public enum BodyFramingKind
{
    /// <summary>No body by definition (204, 304; HEAD never stores).</summary>
    None,
    /// <summary>Content-Length: the body ends after that many bytes; a shorter one is an error.</summary>
    Length,
    /// <summary>Chunked: the body ends with the last (zero) chunk; a connection closed before it is an error.</summary>
    Chunked,
    /// <summary>Neither: the body ends when the connection closes, which a connection cut short looks like too.</summary>
    CloseDelimited,
}

public readonly record struct BodyFraming(BodyFramingKind Kind, long? Length)
{
    /// <summary>
    /// The framing of a response SocketsHttpHandler has parsed. With both Transfer-Encoding: chunked and a
    /// Content-Length, the handler reads the body as chunked (as RFC 9112 6.3 says); the length is then a lie
    /// (or an attack), so it is removed from the response and never forwarded, stored or trusted.
    /// </summary>
    public static BodyFraming Of(HttpResponseMessage response)
    {
        if (response.Headers.TransferEncodingChunked == true)
        {
            if (response.Content.Headers.Contains("Content-Length")) response.Content.Headers.Remove("Content-Length");
            return new BodyFraming(BodyFramingKind.Chunked, null);
        }
        if (response.Content.Headers.ContentLength is long length) return new BodyFraming(BodyFramingKind.Length, length);
        if (response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotModified || (int)response.StatusCode < 200)
            return new BodyFraming(BodyFramingKind.None, null);
        return new BodyFraming(BodyFramingKind.CloseDelimited, null);
    }

    /// <summary>
    /// Can a complete body be told from a truncated one? Not for a close-delimited body (an HTTP/1.0-style
    /// origin): those are passed on but never stored.
    /// </summary>
    public bool ProvesCompleteness => Kind != BodyFramingKind.CloseDelimited;
}
