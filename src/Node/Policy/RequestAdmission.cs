using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using CacheCluster.Caching;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.FrontEnd.Auth;
using CacheCluster.Node.FrontEnd.Hardening;
using CacheCluster.Node.FrontEnd.Limits;
using CacheCluster.Node.Management.Observability;
using CacheCluster.Node.Policy.Guard;
using CacheCluster.Node.Proxy;
using Microsoft.AspNetCore.Http.Features;

namespace CacheCluster.Node.Policy;

/// <summary>
/// The "check policy" step, run before the proxy handler sees a request: loop detection, strict request
/// checks, per-client rate, proxy authentication, access rules, per-user rate and concurrency. A refused
/// request gets its status here (400/403/407/429/508) with a short text naming the reason.
/// </summary>
public sealed class RequestAdmission(
    NodeSettings settings,
    AccessPolicy policy,
    ProxyAuthenticator auth,
    ClientLimits limits,
    HostResolver resolver,
    ILogger<RequestAdmission> logger)
{
    private readonly string _viaName = settings.Proxy.ViaName;
    private readonly string _cacheName = settings.Proxy.CacheName;

    /// <summary>
    /// For <c>dst</c> rules: the URL's literal address, or the addresses its name resolves to (as Squid's dst ACL
    /// does); a name that does not resolve has none, so no dst rule matches it.
    /// </summary>
    private async Task<IReadOnlyList<IPAddress>> DestinationAddressesAsync(string host, CancellationToken ct)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) return [literal.IsIPv4MappedToIPv6 ? literal.MapToIPv4() : literal];
        try { return await resolver.ResolveAsync(host, ct); }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ArgumentException) { return []; }
    }

    public async Task InvokeAsync(HttpContext ctx, RequestDelegate next)
    {
        var request = ctx.Request;
        var client = ctx.Connection.RemoteIpAddress ?? IPAddress.None;
        if (client.IsIPv4MappedToIPv6) client = client.MapToIPv4();

        // 1. Forwarding loop: our own Via token in the request means it already passed this node.
        if (StrictRequest.HasOwnVia(request.Headers.Via, _viaName))
        {
            logger.LogWarning("Forwarding loop: {Method} {Target} from {Client} already carries our Via ({Via})",
                request.Method, RawTarget(ctx), client, request.Headers.Via.ToString());
            await Refuse(ctx, StatusCodes.Status508LoopDetected, "this request has already passed through this proxy (forwarding loop)", "loop");
            return;
        }

        // 2. Smuggling and poisoning: what Kestrel lets through but a proxy must not.
        if (StrictRequest.Check(request) is { } bad)
        {
            // Set when the head goes out (the error writer clears headers first).
            if (bad.Close) ctx.Response.OnStarting(() => { ctx.Response.Headers.Connection = "close"; return Task.CompletedTask; });
            await Refuse(ctx, bad.Status, bad.Message, "bad-request");
            return;
        }

        // A declared body over Limits:MaxRequestBodySize is refused before any upstream connection is made.
        if (request.ContentLength is long declared && ctx.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is long max && declared > max)
        {
            await Refuse(ctx, StatusCodes.Status413PayloadTooLarge, $"the request body ({declared} bytes) is larger than this proxy accepts ({max} bytes)", "too-large");
            return;
        }

        // 3. Per-client request rate.
        if (limits.TryClientRequest(client) is int wait)
        {
            await TooMany(ctx, wait, $"too many requests from {client}; retry in {wait} s");
            return;
        }

        // 4. Credentials, when presented, must be right.
        var (outcome, user) = await auth.AuthenticateAsync(request);
        // Requests decrypted from a bumped tunnel carry no proxy credentials: they inherit the CONNECT's user (as in Squid).
        if (outcome == AuthOutcome.NoCredentials && Proxy.Intercept.BumpTarget.Of(ctx)?.User is { } tunnelUser) (outcome, user) = (AuthOutcome.Valid, tunnelUser);
        if (outcome == AuthOutcome.Invalid)
        {
            logger.LogWarning("Proxy authentication failed for {Client}", client);
            await Challenge(ctx, "the proxy credentials are not valid");
            return;
        }
        var groups = auth.GroupsOf(user);

        // 5. Access rules, first match wins.
        var rules = policy.Current;
        var (host, port) = rules.UsesDestination ? Destination(ctx) : ("", 0);
        var facts = new AccessRequest(client, host, port, request.Method, rules.UsesDestination ? UrlOf(ctx, host, port) : "", user, groups,
            rules.UsesTime ? DateTime.Now : default)
        {
            DestinationAddresses = rules.UsesDestinationAddress ? await DestinationAddressesAsync(host, ctx.RequestAborted) : null,
        };
        // Without Auth:HtpasswdFile there are no users: rules naming them never match.
        var decision = rules.Evaluate(facts, canChallenge: auth.Enabled);
        if (decision.Verdict == AccessVerdict.Challenge)
        {
            await Challenge(ctx, $"access rule '{decision.RuleName}' needs a proxy user");
            return;
        }
        if (!decision.Allowed)
        {
            logger.LogWarning("Denied {Client}{User} {Method} {Url} by access rule '{Rule}' (#{Index}){Note}",
                client, user is null ? "" : $" ({user})", request.Method, facts.Url.Length > 0 ? facts.Url : RawTarget(ctx), decision.RuleName, decision.RuleIndex,
                decision.Note is null ? "" : $": {decision.Note}");
            if (ctx.Features.Get<ProxyRequestInfo>() is { } info) info.DeniedByRule = decision.RuleName;
            await Refuse(ctx, StatusCodes.Status403Forbidden,
                $"access denied by rule '{decision.RuleName}'" + (decision.Note is null ? "" : $" ({decision.Note})"), "denied", RejectionReason.Rule);
            return;
        }
        if (user is null && auth.Required)
        {
            await Challenge(ctx, "this proxy needs a user name and password");
            return;
        }

        // 6. Per-user rate and concurrency.
        IDisposable? slot = null;
        if (user is not null)
        {
            if (limits.TryUserRequest(user) is int userWait)
            {
                await TooMany(ctx, userWait, $"too many requests for user '{user}'; retry in {userWait} s");
                return;
            }
            slot = limits.TryUserSlot(user, out var limited);
            if (limited)
            {
                await TooMany(ctx, 1, $"too many concurrent requests for user '{user}'");
                return;
            }
            ctx.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], "ProxyBasic"));
        }
        ctx.Features.Set<IProxyUserFeature>(user is null ? Anonymous(decision.RuleName) : new ProxyUserFeature(user, groups, decision.RuleName));
        try { await next(ctx); }
        finally { slot?.Dispose(); }
    }

    // Anonymous requests share one feature object per admitting rule: nothing allocated per request.
    private readonly ConcurrentDictionary<string, ProxyUserFeature> _anonymous = new(StringComparer.Ordinal);
    private static readonly IReadOnlySet<string> NoGroups = new HashSet<string>();

    private ProxyUserFeature Anonymous(string rule) => _anonymous.TryGetValue(rule, out var f) ? f
        : _anonymous.Count < 10_000 ? _anonymous.GetOrAdd(rule, r => new ProxyUserFeature(null, NoGroups, r)) : new ProxyUserFeature(null, NoGroups, rule);

    private Task Refuse(HttpContext ctx, int status, string message, string detail, RejectionReason? reason = null)
    {
        WithHeader(ctx, "Connection", "close");
        return ProxyErrors.WriteAsync(ctx, status, message, CacheStatus.Local(_cacheName, detail), refused: reason);
    }

    private Task Challenge(HttpContext ctx, string message)
    {
        WithHeader(ctx, "Proxy-Authenticate", auth.Challenge);
        return ProxyErrors.WriteAsync(ctx, StatusCodes.Status407ProxyAuthenticationRequired, message,
            CacheStatus.Local(_cacheName, "auth"), refused: RejectionReason.Auth);
    }

    private Task TooMany(HttpContext ctx, int retryAfter, string message)
    {
        WithHeader(ctx, "Retry-After", retryAfter.ToString(CultureInfo.InvariantCulture));
        return ProxyErrors.WriteAsync(ctx, StatusCodes.Status429TooManyRequests, message, CacheStatus.Local(_cacheName, "rate-limited"), refused: RejectionReason.Rate);
    }

    /// <summary>A header on the error response (ProxyErrors clears the headers before writing, so add it as the response starts).</summary>
    private static void WithHeader(HttpContext ctx, string name, string value) =>
        ctx.Response.OnStarting(() => { ctx.Response.Headers[name] = value; return Task.CompletedTask; });

    private static string RawTarget(HttpContext ctx) => ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";

    /// <summary>The destination host and port: the CONNECT authority, the absolute URL, or (reverse proxy) the Host header.</summary>
    internal static (string Host, int Port) Destination(HttpContext ctx)
    {
        var raw = RawTarget(ctx);
        if (HttpMethods.IsConnect(ctx.Request.Method))
            return ConnectTunnel.TryParseAuthority(raw, out var h, out var p) ? (h.ToLowerInvariant(), p) : ("", 0);
        if (raw.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || raw.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            if (Uri.TryCreate(raw, UriKind.Absolute, out var uri)) return (uri.IdnHost.ToLowerInvariant(), uri.Port);
            return ("", 0);
        }
        var host = ctx.Request.Host;
        return (host.Host.ToLowerInvariant(), host.Port ?? (ctx.Request.IsHttps ? 443 : 80));
    }

    private static string UrlOf(HttpContext ctx, string host, int port)
    {
        var raw = RawTarget(ctx);
        if (HttpMethods.IsConnect(ctx.Request.Method)) return $"{host}:{port}";
        return raw.StartsWith('/') ? $"http://{ctx.Request.Host}{raw}" : raw;
    }
}
