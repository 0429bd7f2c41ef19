namespace CacheCluster.Node.Hardening;

/// <summary>
/// Origin response headers are passed on (and stored) only when they are well formed: a token name and a
/// value of visible ASCII, spaces and tabs. Anything else (CR/LF for response splitting, NUL, other
/// controls, raw 8-bit bytes Kestrel would refuse to write) is dropped, so one origin cannot corrupt what
/// this proxy sends to clients or keeps in its cache.
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
            if ((c < ' ' && c != '\t') || c >= 127) return false;
        return true;
    }
}
