using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace CacheCluster.Node.FrontEnd.Auth;

/// <summary>
/// Users and bcrypt hashes from an htpasswd file (htpasswd -B: "$2y$…", also $2a$/$2b$). The file is
/// looked at again at most once a second and reloaded when its time stamp or size changed, so adding or
/// removing a user needs no restart. Successful checks are remembered (by a SHA-256 of the credentials)
/// until the next reload, because bcrypt is deliberately slow and every proxied request carries them.
/// </summary>
public sealed class HtpasswdFile
{
    private readonly string _path;
    private readonly ILogger _logger;
    private readonly Lock _reloadLock = new();
    private volatile Dictionary<string, string> _hashes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _verified = new(StringComparer.Ordinal);
    private (DateTime Time, long Size) _stamp;
    private long _nextCheckTicks;

    public HtpasswdFile(string path, ILogger logger)
    {
        _path = path;
        _logger = logger;
        Reload();
    }

    public int UserCount => _hashes.Count;

    /// <summary>
    /// True when the user exists and the password matches its bcrypt hash. A pair verified before answers at once;
    /// bcrypt itself (deliberately slow: tens of milliseconds) runs on a pool thread, at most one per core at a time,
    /// never on the socket thread that received the request (with Proxy:InlineIo that thread serves many clients).
    /// </summary>
    public async ValueTask<bool> VerifyAsync(string user, string password)
    {
        CheckForChanges();
        var hashes = _hashes;
        if (!hashes.TryGetValue(user, out var hash)) return false;
        var key = Fingerprint(user, password);
        if (_verified.ContainsKey(key)) return true;
        bool ok;
        await BcryptSlots.WaitAsync();
        try
        {
            ok = await Task.Run(() =>
            {
                try { return BCrypt.Net.BCrypt.Verify(password, hash); }
                catch (BCrypt.Net.SaltParseException) { return false; }
            });
        }
        finally { BcryptSlots.Release(); }
        if (ok && ReferenceEquals(hashes, _hashes))
        {
            if (_verified.Count > 10_000) _verified.Clear();
            _verified[key] = 0;
        }
        return ok;
    }

    private static readonly SemaphoreSlim BcryptSlots = new(Environment.ProcessorCount);

    private void CheckForChanges()
    {
        var now = Environment.TickCount64;
        if (now < Volatile.Read(ref _nextCheckTicks)) return;
        Volatile.Write(ref _nextCheckTicks, now + 1000);
        if (Stamp() != _stamp) Reload();
    }

    private (DateTime, long) Stamp()
    {
        try
        {
            var info = new FileInfo(_path);
            return info.Exists ? (info.LastWriteTimeUtc, info.Length) : default;
        }
        catch (IOException) { return default; }
    }

    private void Reload()
    {
        lock (_reloadLock)
        {
            var stamp = Stamp();
            string[] lines;
            try { lines = File.ReadAllLines(_path); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Keep the users we have: a file being rewritten must not lock everyone out.
                _logger.LogWarning("Cannot read the htpasswd file {Path}: {Error}; keeping the {Count} user(s) loaded before", _path, ex.Message, _hashes.Count);
                return;
            }
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < lines.Length; i++)
            {
                var line = lines[i].Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                int colon = line.IndexOf(':');
                var hash = colon > 0 ? line[(colon + 1)..] : "";
                if (!(hash.StartsWith("$2y$") || hash.StartsWith("$2a$") || hash.StartsWith("$2b$")))
                {
                    _logger.LogWarning("{Path} line {Line}: not a bcrypt entry (create users with htpasswd -B); ignored", _path, i + 1);
                    continue;
                }
                map[line[..colon]] = hash;
            }
            _hashes = map;
            _verified.Clear();
            _stamp = stamp;
            _logger.LogInformation("Loaded {Count} proxy user(s) from {Path}", map.Count, _path);
        }
    }

    private static string Fingerprint(string user, string password) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(user + "\0" + password)));
}
