using CacheCluster.Contracts.Entries;
using Orleans.Runtime;

namespace CacheCluster.Grains.Protocol.Fills;

/// <summary>
/// Tells an entry's owner which node leads a fill: the calls that can start one (LookupAsync asking for a fill,
/// BeginFillAsync) carry the calling silo's address in the request context, so the owner can end a fill at once when that node is declared dead (a partition, a crash)
/// instead of keeping its followers waiting for the 30 s stall limit.
/// </summary>
public sealed class FillLeaderTag(ILocalSiloDetails local) : IOutgoingGrainCallFilter
{
    public const string ContextKey = "cc-fill-leader";

    public Task Invoke(IOutgoingGrainCallContext context) =>
        context.MethodName is nameof(ICacheEntryGrain.BeginFillAsync)
            || (context.MethodName is nameof(ICacheEntryGrain.LookupAsync) && context.Request.GetArgument(1) is true)
            ? Tagged(context) : context.Invoke();

    private async Task Tagged(IOutgoingGrainCallContext context)
    {
        RequestContext.Set(ContextKey, local.SiloAddress.ToParsableString());
        // The tag must not ride along on the request's later calls (they carry the context too).
        try { await context.Invoke(); }
        finally { RequestContext.Remove(ContextKey); }
    }

    /// <summary>The leader named by the current call, or null (an older node, or a call without the tag).</summary>
    public static SiloAddress? FromContext() =>
        RequestContext.Get(ContextKey) is string s ? SiloAddress.FromParsableString(s) : null;
}
