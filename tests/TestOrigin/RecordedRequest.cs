namespace CacheCluster.TestOrigin;

/// <summary>One request as the origin received it. Recorded before the response is started.</summary>
/// <param name="Sequence">1-based arrival number since start or the last <see cref="OriginServer.Reset"/>; also sent as the X-Origin-Seq response header.</param>
/// <param name="Method">The request method.</param>
/// <param name="RawTarget">The request target exactly as on the request line (origin-form, or absolute-form if a client sent that).</param>
/// <param name="PathAndQuery">Origin-form path and query: RawTarget, with scheme and authority removed if it was absolute-form.</param>
/// <param name="Protocol">e.g. HTTP/1.1.</param>
/// <param name="Scheme">http or https (which listener it arrived on).</param>
/// <param name="Headers">Request headers, case-insensitive name to values.</param>
/// <param name="BodyLength">Number of request body bytes read (the body is drained before the response, except on early aborts).</param>
/// <param name="ReceivedAt">When the request head arrived.</param>
public sealed record RecordedRequest(
    long Sequence,
    string Method,
    string RawTarget,
    string PathAndQuery,
    string Protocol,
    string Scheme,
    IReadOnlyDictionary<string, string[]> Headers,
    long BodyLength,
    DateTimeOffset ReceivedAt)
{
    /// <summary>True if the request carried a header of this name.</summary>
    public bool HasHeader(string name) => Headers.ContainsKey(name);

    /// <summary>The header's values joined with ", ", or null when absent.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? string.Join(", ", v) : null;

    public override string ToString() => $"#{Sequence} {Method} {RawTarget} {Protocol} ({Headers.Count} headers, body {BodyLength})";
}
