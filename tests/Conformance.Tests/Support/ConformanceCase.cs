using CacheCluster.TestOrigin;

namespace CacheCluster.Conformance.Tests.Support;

/// <summary>What the origin must (not) have seen for a step.</summary>
public enum Expect
{
    /// <summary>Whatever happens (a setup step).</summary>
    Any,
    /// <summary>Answered by the cache: the origin saw no request for this step.</summary>
    Cached,
    /// <summary>The origin saw this step's request.</summary>
    NotCached,
    /// <summary>The origin saw this step's request carrying If-None-Match.</summary>
    EtagValidated,
    /// <summary>The origin saw this step's request carrying If-Modified-Since.</summary>
    LmValidated,
}

/// <summary>
/// One request of a case: what the client sends, what the origin answers if the request reaches it, how long
/// to wait afterwards, and what the client and the origin must see.
/// </summary>
public sealed record Step
{
    public string Method { get; init; } = "GET";
    /// <summary>Request headers; a name may repeat (separate field lines).</summary>
    public (string Name, string Value)[] Request { get; init; } = [];
    public string? RequestBody { get; init; }
    /// <summary>Which URL of the case: "" is the case's main URL, other names are sibling URLs (Location targets).</summary>
    public string Target { get; init; } = "";
    public string? Query { get; init; }
    /// <summary>Host name to use instead of 127.0.0.1 (a different origin on the same server, e.g. "localhost").</summary>
    public string? Host { get; init; }
    /// <summary>Which node's client sends this step (cluster cases); 0 for single-node cases.</summary>
    public int Node { get; init; }
    /// <summary>The origin's answer when this step reaches it. <c>{base}</c> in a header value is the case's main path, <c>{name}</c> its last segment.</summary>
    public ScriptedResponse Origin { get; init; } = new();
    public double PauseAfterSeconds { get; init; }
    /// <summary>
    /// The cache answers this step with a stale entry and revalidates it in the background: that revalidation
    /// carries the client's headers (this step's tag too) and the stored validators, and is not "the origin was
    /// asked" for this step's answer.
    /// </summary>
    public bool RevalidatesInBackground { get; init; }

    public Expect Expect { get; init; }
    public int? Status { get; init; }
    public string? Body { get; init; }
    /// <summary>Response headers that must have exactly this (comma-joined) value.</summary>
    public (string Name, string Value)[] Headers { get; init; } = [];
    public string[] HeadersPresent { get; init; } = [];
    public string[] HeadersMissing { get; init; } = [];
    /// <summary>Request headers the origin must have received for this step (null value: just present).</summary>
    public (string Name, string? Value)[] OriginSaw { get; init; } = [];
    public string[] OriginDidNotSee { get; init; } = [];
    /// <summary>Further checks on the response: return a failure message or null.</summary>
    public Func<HttpResponseMessage, string?>? Check { get; init; }
}

/// <summary>A conformance case: an id, the RFC section it checks, and its steps.</summary>
public sealed record ConformanceCase(string Id, string Rfc, string Title, params Step[] Steps)
{
    public override string ToString() => $"{Id} [{Rfc}]";
}

/// <summary>Short builders for case tables.</summary>
public static class Dsl
{
    public static ScriptedHeader H(string name, string value) => new(name, value);
    /// <summary>An HTTP-date header relative to the moment the origin answers.</summary>
    public static ScriptedHeader D(string name, int secondsFromNow) => new(name, null, secondsFromNow);

    public static ScriptedResponse R(params ScriptedHeader[] headers) => new() { Headers = [.. headers] };
    public static ScriptedResponse R(int status, params ScriptedHeader[] headers) => new() { Status = status, Headers = [.. headers] };

    /// <summary>A fresh (one hour) response with validators.</summary>
    public static ScriptedResponse Fresh(params ScriptedHeader[] extra) =>
        R([D("Date", 0), H("Cache-Control", "max-age=3600"), D("Last-Modified", -3600), .. extra]);

    public static ScriptedHeader[] Hs(params ScriptedHeader[] headers) => headers;
}
