using System.Text;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy;

namespace CacheCluster.Node.FrontEnd.Auth;

public enum AuthOutcome { NoCredentials, Valid, Invalid }

/// <summary>
/// Proxy authentication (RFC 9110 11.7): Basic credentials from Proxy-Authorization checked against the
/// htpasswd file. Proxy-Authorization is hop-by-hop (HopByHop.cs), so it is never sent upstream.
/// </summary>
public sealed class ProxyAuthenticator
{
    private readonly HtpasswdFile? _file;
    private readonly AuthSettings _settings;
    private static readonly IReadOnlySet<string> NoGroups = new HashSet<string>();

    public ProxyAuthenticator(NodeSettings settings, ILogger<ProxyAuthenticator> logger)
    {
        _settings = settings.Policy.Auth;
        if (_settings.HtpasswdFile is { } path) _file = new HtpasswdFile(path, logger);
        Challenge = $"Basic realm=\"{_settings.Realm}\", charset=\"UTF-8\"";
    }

    public bool Enabled => _file is not null;
    public bool Required => _file is not null && _settings.Required;
    public string Challenge { get; }

    /// <summary>The request's credentials checked; the user's name when they are valid.</summary>
    public async ValueTask<(AuthOutcome Outcome, string? User)> AuthenticateAsync(HttpRequest request)
    {
        if (_file is null) return (AuthOutcome.NoCredentials, null);
        var header = request.Headers["Proxy-Authorization"];
        if (header.Count == 0) return (AuthOutcome.NoCredentials, null);
        if (header.Count > 1 || Credentials(header[0]) is not var (name, password)) return (AuthOutcome.Invalid, null);
        return await _file.VerifyAsync(name, password) ? (AuthOutcome.Valid, name) : (AuthOutcome.Invalid, null);
    }

    /// <summary>User and password of a Basic Proxy-Authorization value; null when it is not one.</summary>
    private static (string User, string Password)? Credentials(string? header)
    {
        var value = header.AsSpan().Trim();
        if (!value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        var encoded = value[6..].Trim();
        Span<byte> bytes = stackalloc byte[Math.Min(1024, encoded.Length)];
        if (encoded.Length > 1024 || !Convert.TryFromBase64Chars(encoded, bytes, out int n)) return null;
        string pair;
        try { pair = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes[..n]); }
        catch (DecoderFallbackException) { return null; }
        int colon = pair.IndexOf(':');
        return colon <= 0 ? null : (pair[..colon], pair[(colon + 1)..]);
    }

    /// <summary>The groups (Auth:Groups) a user belongs to.</summary>
    public IReadOnlySet<string> GroupsOf(string? user)
    {
        if (user is null || _settings.Groups.Count == 0) return NoGroups;
        HashSet<string>? set = null;
        foreach (var (group, members) in _settings.Groups)
            if (members.Contains(user)) (set ??= new HashSet<string>(StringComparer.Ordinal)).Add(group);
        return set ?? NoGroups;
    }
}
