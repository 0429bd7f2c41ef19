using System.Net;
using System.Text;

namespace CacheCluster.Conformance.Tests.Support;

/// <summary>
/// HttpClients that send everything through a node, like TestSupport's, but that also send and read header
/// values with obs-text (Latin-1 bytes, RFC 9110 5.5), so cases can use such values end to end.
/// </summary>
public static class ProxyClients
{
    public static HttpClient Via(Uri proxy) =>
        new(new SocketsHttpHandler
        {
            Proxy = new WebProxy(proxy) { BypassProxyOnLocal = false },
            UseProxy = true,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            RequestHeaderEncodingSelector = (_, _) => Encoding.Latin1,
            ResponseHeaderEncodingSelector = (_, _) => Encoding.Latin1,
        })
        { Timeout = TimeSpan.FromSeconds(30) };
}
