using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace CacheCluster.Tests.Support;

/// <summary>
/// A client host that is not on loopback: a network namespace of our own joined to this one by a veth pair,
/// 10.199.N.1 on our side and 10.199.N.2 inside (private addresses created here and removed on Dispose).
/// Needs root (CAP_NET_ADMIN); <see cref="TryCreate"/> says why when namespaces are not permitted.
/// </summary>
public sealed class PrivateNetwork : IDisposable
{
    private readonly string _hostLink;

    public string Namespace { get; }
    /// <summary>Our side of the link: a node listening here is reachable from the namespace.</summary>
    public IPAddress HostAddress { get; }
    /// <summary>The client's address inside the namespace.</summary>
    public IPAddress ClientAddress { get; }

    private PrivateNetwork(string ns, string hostLink, int subnet)
    {
        Namespace = ns;
        _hostLink = hostLink;
        HostAddress = IPAddress.Parse($"10.199.{subnet}.1");
        ClientAddress = IPAddress.Parse($"10.199.{subnet}.2");
    }

    /// <summary>Creates the namespace and link, or returns null with the reason (not root, no iproute2, not permitted).</summary>
    public static PrivateNetwork? TryCreate(out string why)
    {
        why = "";
        if (!OperatingSystem.IsLinux()) { why = "network namespaces need Linux"; return null; }
        if (!File.Exists("/usr/sbin/ip") && !File.Exists("/sbin/ip") && !File.Exists("/usr/bin/ip")) { why = "iproute2 (ip) is not installed"; return null; }
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var ns = $"cctest-{id}";
        var (code, _, err) = Run("ip", "netns", "add", ns);
        if (code != 0) { why = $"cannot create a network namespace (root / CAP_NET_ADMIN needed): {err.Trim()}"; return null; }
        string host = $"ccv{id}h", peer = $"ccv{id}n";
        // A /30 nobody on this machine uses yet (other tests may hold some): bounded tries.
        for (int attempt = 0; attempt < 20; attempt++)
        {
            int subnet = RandomNumberGenerator.GetInt32(1, 250);
            if (Run("ip", "-o", "addr", "show", "to", $"10.199.{subnet}.0/30").Stdout.Trim().Length > 0) continue;
            var net = new PrivateNetwork(ns, host, subnet);
            string[][] steps =
            [
                ["ip", "link", "add", host, "type", "veth", "peer", "name", peer],
                ["ip", "link", "set", peer, "netns", ns],
                ["ip", "addr", "add", $"{net.HostAddress}/30", "dev", host],
                ["ip", "link", "set", host, "up"],
                ["ip", "netns", "exec", ns, "ip", "addr", "add", $"{net.ClientAddress}/30", "dev", peer],
                ["ip", "netns", "exec", ns, "ip", "link", "set", peer, "up"],
                ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
            ];
            foreach (var step in steps)
            {
                var r = Run(step);
                if (r.Code != 0) { net.Dispose(); why = $"{string.Join(' ', step)} failed: {r.Stderr.Trim()}"; return null; }
            }
            return net;
        }
        Run("ip", "netns", "del", ns);
        why = "no free 10.199.N.0/30 subnet";
        return null;
    }

    /// <summary>Runs a command inside the namespace (bounded by <paramref name="timeout"/>).</summary>
    public (int Code, string Stdout, string Stderr) Exec(TimeSpan timeout, params string[] command) =>
        Run(timeout, ["ip", "netns", "exec", Namespace, .. command]);

    /// <summary>
    /// curl inside the namespace through <paramref name="proxy"/>: the status line's code and the body. A CONNECT
    /// (tunnel) gives the proxy's answer to the CONNECT.
    /// </summary>
    public (int Status, string Body) CurlViaProxy(Uri proxy, string url, bool tunnel = false)
    {
        string[] args = ["curl", "-s", "--max-time", "15", "--noproxy", "", "-x", proxy.ToString(), "-w", tunnel ? "\n%{http_connect}" : "\n%{http_code}"];
        if (tunnel) args = [.. args, "-p"];
        var (_, stdout, _) = Exec(TimeSpan.FromSeconds(20), [.. args, url]);
        var cut = stdout.LastIndexOf('\n');
        return (int.TryParse(stdout[(cut + 1)..].Trim(), out var s) ? s : 0, cut > 0 ? stdout[..cut] : "");
    }

    /// <summary>Sends <paramref name="request"/> as raw bytes from inside the namespace and returns the raw answer.</summary>
    public string Raw(IPEndPoint to, string request)
    {
        var script = $"exec 3<>/dev/tcp/{to.Address}/{to.Port} && printf '%s' \"$REQ\" >&3 && timeout 10 cat <&3";
        return Start(TimeSpan.FromSeconds(20), ["ip", "netns", "exec", Namespace, "bash", "-c", script], ("REQ", request)).Stdout;
    }

    public void Dispose()
    {
        // Deleting the namespace destroys the peer end, which takes the veth pair (and our address) with it.
        Run("ip", "netns", "del", Namespace);
        Run("ip", "link", "del", _hostLink);
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] command) => Run(TimeSpan.FromSeconds(20), command);

    private static (int Code, string Stdout, string Stderr) Run(TimeSpan timeout, string[] command) => Start(timeout, command);

    private static (int Code, string Stdout, string Stderr) Start(TimeSpan timeout, string[] command, params (string Name, string Value)[] env)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var (n, v) in env) psi.Environment[n] = v;
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeout)) { p.Kill(entireProcessTree: true); return (-1, stdout.Result, "timed out"); }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception ex) { return (-1, "", ex.Message); }
    }
}
