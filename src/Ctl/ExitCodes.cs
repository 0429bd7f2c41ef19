using Grpc.Core;

namespace CacheCluster.Ctl;

/// <summary>Exit codes scripts can rely on (also in docs/management.md).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The server failed the call for another reason (INTERNAL, FAILED_PRECONDITION, ...).</summary>
    public const int Failed = 1;
    /// <summary>Bad command line or INVALID_ARGUMENT from the server.</summary>
    public const int Usage = 2;
    /// <summary>NOT_FOUND (a URL not in the cache, an unknown node).</summary>
    public const int NotFound = 3;
    /// <summary>UNAUTHENTICATED / PERMISSION_DENIED: missing or wrong token.</summary>
    public const int Unauthenticated = 4;
    /// <summary>The node could not be reached or did not answer in time (UNAVAILABLE, DEADLINE_EXCEEDED).</summary>
    public const int Unavailable = 5;
    /// <summary>Some items of a batch failed (warm: a URL could not be fetched; purge: a node did not answer).</summary>
    public const int Partial = 6;

    public static int For(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.OutOfRange => Usage,
        StatusCode.NotFound => NotFound,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => Unauthenticated,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => Unavailable,
        StatusCode.Cancelled => 130,
        _ => Failed,
    };
}
