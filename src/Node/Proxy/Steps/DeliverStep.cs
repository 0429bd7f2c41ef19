using CacheCluster.Node.Proxy.Responses;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace CacheCluster.Node.Proxy.Steps;

/// <summary>
/// 8. Deliver: the origin's status and end-to-end headers now, then the body streamed to the client and, when
/// storing, to the fill, which commits only once the body's framing says it ended (<see cref="BodyCopy"/>).
/// </summary>
public sealed class DeliverStep(StoredHead head, BodyCopy copy)
{
    public async ValueTask<Step> RunAsync(ProxyRequest r)
    {
        var ctx = r.Context;
        var originResponse = r.OriginResponse!;
        var response = ctx.Response;
        response.StatusCode = r.OriginStatus;
        if (originResponse.ReasonPhrase is { } phrase) ctx.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = phrase;
        var headers = r.ResponseHeaders;
        for (int i = 0; i + 1 < headers.Length; i += 2) response.Headers.Append(headers[i], headers[i + 1]);
        if (r.Framing.Length is long length) response.ContentLength = length;
        response.Headers.Append(HeaderNames.Via, head.Via);
        var answer = r.Storing
            ? new Answer(AnsweredBy.MissStored, r.Reason, r.OriginStatus, r.StoredFacts.Lifetime - r.StoredFacts.InitialAge)
            : new Answer(AnsweredBy.MissNotStored, r.Reason, r.OriginStatus, Detail: r.Fill is not null ? r.NotStored : null);
        response.Headers.Append("Cache-Status", r.Answered(answer, head.CacheName));

        await copy.CopyAsync(ctx, originResponse, r.Storing ? r.Fill : null, ctx.Request.Method);
        return Step.Done;
    }
}
