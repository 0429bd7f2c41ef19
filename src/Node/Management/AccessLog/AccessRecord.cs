using System.Globalization;
using System.Text;
using System.Text.Json;
using CacheCluster.Node.Management.Observability;

namespace CacheCluster.Node.Management.AccessLog;

/// <summary>
/// One line of the access log, with every field already as Squid would log it: <see cref="SquidCode"/> is the
/// final result code (suffix included), <see cref="Hierarchy"/> Squid's hierarchy code, <see cref="Peer"/> the
/// server's address or null.
/// </summary>
public sealed record AccessRecord(
    DateTimeOffset Time,
    TimeSpan Elapsed,
    string Client,
    RequestOutcome Outcome,
    string SquidCode,
    int Status,
    long Bytes,
    string Method,
    string Url,
    string Protocol,
    string? User,
    string Hierarchy,
    string? Peer,
    string? Owner,
    string? CacheStatus,
    string? ContentType,
    string? Referer = null,
    string? UserAgent = null,
    bool Bumped = false)
{
    /// <summary>
    /// Squid's native format (logformat squid): <c>%ts.%03tu %6tr %&gt;a %Ss/%03&gt;Hs %&lt;st %rm %ru %[un %Sh/%&lt;a %mt</c>,
    /// so existing analysers (calamaris, SARG, lightsquid) read it as Squid's.
    /// </summary>
    public void WriteSquid(StringBuilder sb, bool stripQuery)
    {
        long ms = Time.ToUnixTimeMilliseconds();
        sb.Append((ms / 1000).ToString(CultureInfo.InvariantCulture)).Append('.').Append((ms % 1000).ToString("D3", CultureInfo.InvariantCulture));
        sb.Append(' ').Append(((long)Elapsed.TotalMilliseconds).ToString(CultureInfo.InvariantCulture).PadLeft(6));
        sb.Append(' ').Append(Client);
        sb.Append(' ').Append(SquidCode).Append('/').Append(Status.ToString("D3", CultureInfo.InvariantCulture));
        sb.Append(' ').Append(Bytes.ToString(CultureInfo.InvariantCulture));
        sb.Append(' ').Append(Clean(Method));
        sb.Append(' ').Append(Clean(LoggedUrl(stripQuery)));
        sb.Append(' ').Append(string.IsNullOrEmpty(User) ? "-" : Clean(User));
        sb.Append(' ').Append(Hierarchy).Append('/').Append(Peer ?? "-");
        sb.Append(' ').Append(MimeType(ContentType) is { Length: > 0 } type ? Clean(type) : "-");
    }

    /// <summary>Squid's %mt is the media type alone: the Content-Type up to the first ';' or blank.</summary>
    private static string? MimeType(string? contentType)
    {
        if (contentType is null) return null;
        int end = contentType.AsSpan().IndexOfAny(';', ' ', '\t');
        return end < 0 ? contentType : contentType[..end];
    }

    /// <summary>
    /// The NCSA common log format (Apache's "common"): <c>%h %l %u [%t] "%r" %&gt;s %b</c>; with
    /// <paramref name="combined"/>, Apache's "combined": Referer and User-Agent appended.
    /// </summary>
    public void WriteNcsa(StringBuilder sb, bool stripQuery, bool combined)
    {
        sb.Append(Client).Append(" - ").Append(string.IsNullOrEmpty(User) ? "-" : Clean(User));
        var t = Time.ToLocalTime(); // NCSA logs local time with its offset
        sb.Append(" [").Append(t.ToString("dd/MMM/yyyy:HH:mm:ss ", CultureInfo.InvariantCulture))
          .Append(t.Offset < TimeSpan.Zero ? '-' : '+').Append(t.Offset.ToString("hhmm", CultureInfo.InvariantCulture)).Append(']');
        sb.Append(" \"").Append(Clean(Method)).Append(' ').Append(Quoted(LoggedUrl(stripQuery))).Append(' ').Append(Clean(Protocol)).Append('"');
        sb.Append(' ').Append(Status.ToString("D3", CultureInfo.InvariantCulture));
        sb.Append(' ').Append(Bytes > 0 ? Bytes.ToString(CultureInfo.InvariantCulture) : "-");
        if (!combined) return;
        sb.Append(" \"").Append(string.IsNullOrEmpty(Referer) ? "-" : Quoted(Referer)).Append('"');
        sb.Append(" \"").Append(string.IsNullOrEmpty(UserAgent) ? "-" : Quoted(UserAgent)).Append('"');
    }

    /// <summary>One JSON object per line.</summary>
    public void WriteJson(Utf8JsonWriter w, string localNode, bool stripQuery)
    {
        w.WriteStartObject();
        w.WriteString("time", Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        w.WriteNumber("elapsed_ms", Math.Round(Elapsed.TotalMilliseconds, 3));
        w.WriteString("client", Client);
        w.WriteString("node", localNode);
        w.WriteString("method", Method);
        w.WriteString("url", LoggedUrl(stripQuery));
        w.WriteNumber("status", Status);
        w.WriteNumber("bytes", Bytes);
        w.WriteString("outcome", Outcome.ToString().ToLowerInvariant());
        w.WriteString("squid_code", SquidCode);
        w.WriteString("hierarchy", Hierarchy);
        if (Peer is not null) w.WriteString("peer", Peer); else w.WriteNull("peer");
        if (Owner is not null) w.WriteString("owner", Owner == "hot-copy" ? localNode : Owner); else w.WriteNull("owner");
        if (User is not null) w.WriteString("user", User); else w.WriteNull("user");
        if (CacheStatus is not null) w.WriteString("cache_status", CacheStatus); else w.WriteNull("cache_status");
        if (ContentType is not null) w.WriteString("content_type", ContentType); else w.WriteNull("content_type");
        if (Bumped) w.WriteBoolean("bumped", true); // TLS interception: a bumped CONNECT, or a request decrypted out of one
        w.WriteEndObject();
    }

    /// <summary>Squid's strip_query_terms: everything after the '?' goes (the '?' stays, so a query is seen to have been there).</summary>
    public string LoggedUrl(bool stripQuery)
    {
        if (!stripQuery) return Url;
        int q = Url.IndexOf('?');
        return q < 0 ? Url : Url[..(q + 1)];
    }

    /// <summary>Fields are space-separated: a space or control character inside one would shift the columns.</summary>
    private static string Clean(string s)
    {
        foreach (var c in s)
            if (c <= ' ' || c == 127) return string.Create(s.Length, s, (span, src) => { for (int i = 0; i < src.Length; i++) span[i] = src[i] <= ' ' || src[i] == 127 ? '_' : src[i]; });
        return s;
    }

    /// <summary>Inside a quoted NCSA field: no quote, backslash or control character may end or break it.</summary>
    private static string Quoted(string s)
    {
        foreach (var c in s)
            if (c < ' ' || c == 127 || c == '"' || c == '\\') return string.Create(s.Length, s, (span, src) =>
            {
                for (int i = 0; i < src.Length; i++) span[i] = src[i] < ' ' || src[i] == 127 || src[i] == '"' || src[i] == '\\' ? '_' : src[i];
            });
        return s;
    }
}
