namespace CacheCluster.Node.FrontEnd.Hardening;

/// <summary>
/// Origin response headers are passed on (and stored) only when they are well formed: a token name and a
/// value of visible ASCII, spaces, tabs and obs-text (bytes 0x80-0xFF, RFC 9110 5.5, which the node reads and
/// writes as Latin-1). Anything else (CR/LF for response splitting, NUL, DEL, other controls) is dropped, so one
/// origin cannot corrupt what this proxy sends to clients or keeps in its cache.
/// </summary>
public static class ResponseHeaderCheck
{
    public static bool IsValid(string name, string? value)
    {
        if (name.Length == 0 || value is null) return false;
        foreach (var c in name)
            if (c <= ' ' || c >= 127 || c is '(' or ')' or '<' or '>' or '@' or ',' or ';' or ':' or '\\' or '"' or '/' or '[' or ']' or '?' or '=' or '{' or '}')
                return false;
        foreach (var c in value)
            if ((c < ' ' && c != '\t') || c == 127 || c > 0xFF) return false;
        return true;
    }
}
