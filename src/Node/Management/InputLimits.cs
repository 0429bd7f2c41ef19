using Grpc.Core;

namespace CacheCluster.Node.Management;

/// <summary>
/// Size bounds on every management API input, checked before anything is done with it: an oversized field
/// is refused with INVALID_ARGUMENT naming it. (The whole message is bounded by the gRPC receive limit,
/// <see cref="MaxMessageBytes"/>.)
/// </summary>
public static class InputLimits
{
    /// <summary>gRPC message size limit (requests and each streamed item).</summary>
    public const int MaxMessageBytes = 4 << 20;
    /// <summary>A URL, prefix or host (as the proxy's default request-line limit).</summary>
    public const int MaxUrlChars = 8 * 1024;
    /// <summary>A node name, section name or surrogate key.</summary>
    public const int MaxNameChars = 256;
    /// <summary>Lines of one policy section, and characters of one line.</summary>
    public const int MaxPolicyLines = 1000;
    public const int MaxPolicyLineChars = 64 * 1024;

    public static string Checked(string value, string field, int maxChars)
    {
        if (value.Length > maxChars) throw Invalid(field, $"is {value.Length} characters long; at most {maxChars}");
        return value;
    }

    public static void CheckLines(IReadOnlyList<string> lines, string field)
    {
        if (lines.Count > MaxPolicyLines) throw Invalid(field, $"has {lines.Count} lines; at most {MaxPolicyLines} (use list files under Access:ListDirectory for long lists)");
        for (int i = 0; i < lines.Count; i++)
            if (lines[i].Length > MaxPolicyLineChars) throw Invalid($"{field}[{i}]", $"is {lines[i].Length} characters long; at most {MaxPolicyLineChars}");
    }

    public static RpcException Invalid(string field, string message) =>
        new(new Status(StatusCode.InvalidArgument, $"{field}: {message}"));
}
