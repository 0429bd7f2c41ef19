namespace CacheCluster.Node.Proxy;

/// <summary>
/// Is an absolute-form target already its own cache key? That is: <c>http://</c> or <c>https://</c> in lower
/// case, a lower-case DNS name or a canonical dotted IPv4 address, a port only when it is not the scheme's
/// default (and written without leading zeros), and a path starting with '/' of characters a URL may carry
/// unencoded. Anything else (upper case, IPv6, user info, an odd number form, a bare '?') takes the full parse.
/// </summary>
public static class CanonicalUrl
{
    public static bool Is(string raw)
    {
        ReadOnlySpan<char> s = raw;
        int defaultPort;
        if (s.StartsWith("http://")) { s = s[7..]; defaultPort = 80; }
        else if (s.StartsWith("https://")) { s = s[8..]; defaultPort = 443; }
        else return false;

        int end = s.IndexOfAny(':', '/');
        if (end <= 0 || !IsHost(s[..end])) return false;
        s = s[end..];
        if (s[0] == ':')
        {
            int slash = s.IndexOf('/');
            if (slash < 0 || !IsPort(s[1..slash], defaultPort)) return false;
            s = s[slash..];
        }
        foreach (var c in s)
            if (c <= ' ' || c >= 127 || c is '"' or '<' or '>' or '\\' or '^' or '`' or '{' or '|' or '}' or '#') return false;
        return true;
    }

    private static bool IsHost(ReadOnlySpan<char> host)
    {
        if (host[0] is '.' or '-' || host[^1] is '.' or '-' || host.Contains("..", StringComparison.Ordinal)) return false;
        bool letters = false;
        foreach (var c in host)
        {
            if (c is >= 'a' and <= 'z' or '-') letters = true;
            else if (c is not (>= '0' and <= '9' or '.')) return false;
        }
        return letters || IsDottedQuad(host); // all digits and dots: an IPv4 address, canonical only as a.b.c.d
    }

    private static bool IsDottedQuad(ReadOnlySpan<char> host)
    {
        int parts = 0;
        foreach (var range in host.Split('.'))
        {
            var part = host[range];
            if (++parts > 4 || part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0') || int.Parse(part) > 255) return false;
        }
        return parts == 4;
    }

    private static bool IsPort(ReadOnlySpan<char> port, int defaultPort) =>
        port.Length is > 0 and <= 5 && port[0] != '0' && int.TryParse(port, System.Globalization.NumberStyles.None, null, out var p)
        && p <= 65535 && p != defaultPort;
}
