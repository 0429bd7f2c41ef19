using System.Net;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy;

namespace CacheCluster.Node.Proxy.Upstream;

/// <summary>
/// What the proxy adds to or removes from a request before it goes upstream (Privacy:*): our Via,
/// X-Forwarded-For (on, off, delete, or the client's address truncated), and operator-listed headers.
/// </summary>
public sealed class UpstreamHeaders(NodeSettings settings)
{
    private const string ForwardedFor = "X-Forwarded-For";
    private readonly PrivacySettings _privacy = settings.Policy.Privacy;
    private readonly string _via = "1.1 " + settings.Proxy.ViaName;

    /// <summary>Applies the privacy settings; <paramref name="ctx"/> is null for requests of the node's own (background revalidation).</summary>
    public void Apply(HttpContext? ctx, HttpRequestMessage message)
    {
        foreach (var name in _privacy.StripRequestHeaders)
        {
            // NonValidated lookups first: Remove throws for a name that belongs to the other collection.
            if (message.Headers.NonValidated.Contains(name)) message.Headers.Remove(name);
            if (message.Content is { } content && content.Headers.NonValidated.Contains(name)) content.Headers.Remove(name);
        }
        if (_privacy.Via) message.Headers.TryAddWithoutValidation("Via", _via);

        switch (_privacy.XForwardedFor)
        {
            case ForwardedForMode.Off:
                break; // whatever the client sent passes; nothing added
            case ForwardedForMode.Delete:
                message.Headers.Remove(ForwardedFor);
                message.Headers.Remove("Forwarded");
                break;
            case ForwardedForMode.On:
            {
                if (ctx?.Connection.RemoteIpAddress is not { } client) break;
                var chain = message.Headers.NonValidated.TryGetValues(ForwardedFor, out var existing) ? string.Join(", ", existing) : null;
                message.Headers.Remove(ForwardedFor);
                var self = Normalize(client).ToString();
                message.Headers.TryAddWithoutValidation(ForwardedFor, chain is { Length: > 0 } ? $"{chain}, {self}" : self);
                break;
            }
            case ForwardedForMode.Truncate:
                message.Headers.Remove(ForwardedFor);
                message.Headers.Remove("Forwarded");
                if (ctx?.Connection.RemoteIpAddress is { } c) message.Headers.TryAddWithoutValidation(ForwardedFor, Truncate(Normalize(c)).ToString());
                break;
        }
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;

    /// <summary>The network part only: IPv4 /24, IPv6 /48.</summary>
    public static IPAddress Truncate(IPAddress a)
    {
        var bytes = a.GetAddressBytes();
        int keep = bytes.Length == 4 ? 3 : 6;
        for (int i = keep; i < bytes.Length; i++) bytes[i] = 0;
        return new IPAddress(bytes);
    }
}
