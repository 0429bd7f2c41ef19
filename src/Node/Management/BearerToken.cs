using System.Security.Cryptography;
using System.Text;

namespace CacheCluster.Node.Management;

/// <summary>The management token check shared by the gRPC interceptor and the dashboard's HTTP endpoints.</summary>
public static class BearerToken
{
    public enum Result { Ok, Missing, Wrong }

    /// <summary>Checks an <c>Authorization</c> header value against <paramref name="token"/> (null: no token needed), in fixed time.</summary>
    public static Result Check(byte[]? token, string? header)
    {
        if (token is null) return Result.Ok;
        if (string.IsNullOrEmpty(header)) return Result.Missing;
        const string scheme = "Bearer ";
        return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()), token)
            ? Result.Ok : Result.Wrong;
    }
}
