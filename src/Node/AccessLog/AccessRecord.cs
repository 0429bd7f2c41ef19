using System.Globalization;
using System.Text;
using System.Text.Json;
using CacheCluster.Node.Observability;

namespace CacheCluster.Node.AccessLog;

/// <summary>One line of the access log.</summary>
public sealed record AccessRecord(
    DateTimeOffset Time,
    TimeSpan Elapsed,
    string Client,
    RequestOutcome Outcome,
    bool Tunnel,
    int Status,
    long Bytes,
    string Method,
    string Url,
    string? User,
    string? Owner,
    string? CacheStatus,
    string? ContentType)
{
    /// <summary>
    /// Squid's native format, so existing analysers read it:
    /// <c>time elapsed client code/status bytes method URL user hierarchy/peer type</c>. The hierarchy field is
    /// HIER_NONE/&lt;owner node&gt; when the cache answered and HIER_DIRECT/&lt;origin host&gt; when the origin did.
    /// </summary>
    public void WriteSquid(StringBuilder sb, string localNode)
    {
        bool fromCache = Outcome is RequestOutcome.Hit or RequestOutcome.Stale or RequestOutcome.Revalidated or RequestOutcome.Collapsed;
        bool hot = Owner == "hot-copy";
        sb.Append((Time.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", CultureInfo.InvariantCulture));
        sb.Append(' ').Append(((long)Elapsed.TotalMilliseconds).ToString(CultureInfo.InvariantCulture).PadLeft(6));
        sb.Append(' ').Append(Client);
        sb.Append(' ').Append(OutcomeClassifier.SquidCode(Outcome, Tunnel, hot)).Append('/').Append(Status.ToString("D3", CultureInfo.InvariantCulture));
        sb.Append(' ').Append(Bytes.ToString(CultureInfo.InvariantCulture));
        sb.Append(' ').Append(Method);
        sb.Append(' ').Append(Clean(Url));
        sb.Append(' ').Append(string.IsNullOrEmpty(User) ? "-" : Clean(User));
        if (fromCache) sb.Append(" HIER_NONE/").Append(hot ? localNode : Owner ?? "-");
        else if (Outcome is RequestOutcome.Denied || (Outcome is RequestOutcome.Error && Status is 400)) sb.Append(" HIER_NONE/-");
        else sb.Append(" HIER_DIRECT/").Append(HostOf(Url));
        sb.Append(' ').Append(string.IsNullOrEmpty(ContentType) ? "-" : Clean(ContentType));
    }

    /// <summary>One JSON object per line.</summary>
    public void WriteJson(Utf8JsonWriter w, string localNode)
    {
        w.WriteStartObject();
        w.WriteString("time", Time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        w.WriteNumber("elapsed_ms", Math.Round(Elapsed.TotalMilliseconds, 3));
        w.WriteString("client", Client);
        w.WriteString("node", localNode);
        w.WriteString("method", Method);
        w.WriteString("url", Url);
        w.WriteNumber("status", Status);
        w.WriteNumber("bytes", Bytes);
        w.WriteString("outcome", Outcome.ToString().ToLowerInvariant());
        w.WriteString("squid_code", OutcomeClassifier.SquidCode(Outcome, Tunnel, Owner == "hot-copy"));
        if (Owner is not null) w.WriteString("owner", Owner == "hot-copy" ? localNode : Owner); else w.WriteNull("owner");
        if (User is not null) w.WriteString("user", User); else w.WriteNull("user");
        if (CacheStatus is not null) w.WriteString("cache_status", CacheStatus); else w.WriteNull("cache_status");
        if (ContentType is not null) w.WriteString("content_type", ContentType); else w.WriteNull("content_type");
        w.WriteEndObject();
    }

    private static string HostOf(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host : url.Split(':')[0];

    /// <summary>Fields are space-separated: a space or control character inside one would shift the columns.</summary>
    private static string Clean(string s)
    {
        foreach (var c in s)
            if (c <= ' ' || c == 127) return string.Create(s.Length, s, (span, src) => { for (int i = 0; i < src.Length; i++) span[i] = src[i] <= ' ' || src[i] == 127 ? '_' : src[i]; });
        return s;
    }
}
