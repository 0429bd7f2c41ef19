using System.Buffers;
using System.Text;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>What the first bytes of a tunnel say.</summary>
public enum HelloStatus
{
    /// <summary>Not enough bytes yet to tell.</summary>
    NeedMore,
    /// <summary>Not a TLS ClientHello (or a malformed one): the tunnel is spliced untouched.</summary>
    NotTls,
    /// <summary>A complete ClientHello; <see cref="ClientHello.ServerName"/> holds its SNI, if any.</summary>
    Complete,
}

/// <summary>
/// Reads the server name (SNI, RFC 6066 3) from a TLS ClientHello without consuming anything: the parser only
/// looks at a copy of the bytes, which stay in the connection for whichever side takes the tunnel (the origin
/// when spliced, our TLS server when bumped). The handshake may span several records (RFC 8446 5.1).
/// </summary>
public static class ClientHello
{
    /// <summary>More than this without a whole ClientHello is not something we will wait for (16 KiB record plus headers).</summary>
    public const int MaxBytes = 20 * 1024;

    public static HelloStatus TryRead(ReadOnlySequence<byte> input, out string? serverName)
    {
        serverName = null;
        var data = input.Length > MaxBytes ? input.Slice(0, MaxBytes).ToArray() : input.ToArray();
        return TryRead(data, out serverName);
    }

    public static HelloStatus TryRead(ReadOnlySpan<byte> data, out string? serverName)
    {
        serverName = null;
        // Gather the handshake bytes from consecutive handshake records.
        var handshake = new List<byte>();
        int offset = 0;
        int needed = -1; // the ClientHello's full length (4-byte header included), once known
        while (needed < 0 || handshake.Count < needed)
        {
            if (data.Length - offset < 5) return data.Length >= MaxBytes ? HelloStatus.NotTls : HelloStatus.NeedMore;
            // Record: content type 22 (handshake), legacy version 3.x, length up to 2^14 (+ 256 slack some stacks use).
            if (data[offset] != 22 || data[offset + 1] != 3) return HelloStatus.NotTls;
            int length = data[offset + 3] << 8 | data[offset + 4];
            if (length == 0 || length > 16384 + 256) return HelloStatus.NotTls;
            if (data.Length - offset - 5 < length) return data.Length >= MaxBytes ? HelloStatus.NotTls : HelloStatus.NeedMore;
            foreach (var b in data.Slice(offset + 5, length)) handshake.Add(b);
            offset += 5 + length;
            if (needed < 0 && handshake.Count >= 4)
            {
                if (handshake[0] != 1) return HelloStatus.NotTls; // not a ClientHello
                needed = 4 + (handshake[1] << 16 | handshake[2] << 8 | handshake[3]);
                if (needed > MaxBytes) return HelloStatus.NotTls;
            }
        }
        return Parse([.. handshake.GetRange(4, needed - 4)], out serverName) ? HelloStatus.Complete : HelloStatus.NotTls;
    }

    /// <summary>The ClientHello body (RFC 8446 4.1.2): version, random, session id, ciphers, compression, extensions.</summary>
    private static bool Parse(ReadOnlySpan<byte> body, out string? serverName)
    {
        serverName = null;
        var r = new Reader(body);
        if (!r.Skip(2 + 32)) return false;                    // legacy_version, random
        if (!r.SkipVector(1) || !r.SkipVector(2) || !r.SkipVector(1)) return false; // session id, cipher suites, compression
        if (r.Remaining == 0) return true;                    // no extensions: no SNI
        if (!r.Vector(2, out var extensions)) return false;
        var e = new Reader(extensions);
        while (e.Remaining > 0)
        {
            if (!e.U16(out int type) || !e.Vector(2, out var ext)) return false;
            if (type != 0) continue;                          // server_name
            var s = new Reader(ext);
            if (!s.Vector(2, out var list)) return false;
            var l = new Reader(list);
            while (l.Remaining > 0)
            {
                if (!l.U8(out int nameType) || !l.Vector(2, out var name)) return false;
                if (nameType != 0) continue;                  // host_name
                if (name.Length == 0 || name.Length > 255) return false;
                foreach (var c in name)
                    if (!(char.IsAsciiLetterOrDigit((char)c) || c is (byte)'-' or (byte)'.' or (byte)'_')) return false;
                serverName = Encoding.ASCII.GetString(name).TrimEnd('.').ToLowerInvariant();
                return true;
            }
        }
        return true;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;
        public readonly int Remaining => _data.Length;

        public bool Skip(int n)
        {
            if (_data.Length < n) return false;
            _data = _data[n..];
            return true;
        }

        public bool U8(out int value)
        {
            value = 0;
            if (_data.Length < 1) return false;
            value = _data[0];
            _data = _data[1..];
            return true;
        }

        public bool U16(out int value)
        {
            value = 0;
            if (_data.Length < 2) return false;
            value = _data[0] << 8 | _data[1];
            _data = _data[2..];
            return true;
        }

        public bool Vector(int lengthBytes, out ReadOnlySpan<byte> content)
        {
            content = default;
            int length;
            if (lengthBytes == 1) { if (!U8(out length)) return false; }
            else if (!U16(out length)) return false;
            if (_data.Length < length) return false;
            content = _data[..length];
            _data = _data[length..];
            return true;
        }

        public bool SkipVector(int lengthBytes) => Vector(lengthBytes, out _);
    }
}
