using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace CacheCluster.Tests.Support;

/// <summary>
/// Separate hosts on one machine: a bridge of our own with 10.216.S.1 (this process: test clients and the test
/// origin) and 10.216.S.2 (services such as the database forwarder), and one network namespace per host joined to
/// the bridge by a veth pair, host N at 10.216.S.(10+N). <see cref="Cut"/> drops, inside a host's namespace, all
/// traffic with the bridge's other addresses except 10.216.S.1 (its peers and the database are gone; its own
/// clients and the origin still reach it), <see cref="Heal"/> removes that again. Everything is deleted on
/// Dispose. Needs root (CAP_NET_ADMIN), iproute2 and iptables; <see cref="TryCreate"/> says why when not.
/// </summary>
public sealed class HostsNetwork : IDisposable
{
    private readonly string _id;
    private readonly List<string> _namespaces = [];
    private readonly HashSet<int> _cut = [];

    public int Subnet { get; }
    public string Bridge => $"cc16b{_id}";
    /// <summary>This process's address on the bridge: clients and the origin.</summary>
    public IPAddress ClientAddress => IPAddress.Parse($"10.216.{Subnet}.1");
    /// <summary>A second address of this process on the bridge, for services a cut also takes away (the database).</summary>
    public IPAddress ServiceAddress => IPAddress.Parse($"10.216.{Subnet}.2");

    private HostsNetwork(string id, int subnet) { _id = id; Subnet = subnet; }

    public IPAddress HostAddress(int host) => IPAddress.Parse($"10.216.{Subnet}.{10 + host}");
    public string Namespace(int host) => $"cc16-{_id}-h{host}";

    /// <summary>Creates the bridge, or returns null with the reason (not Linux, not root, no ip / iptables, not permitted).</summary>
    public static HostsNetwork? TryCreate(out string why)
    {
        why = "";
        if (!OperatingSystem.IsLinux()) { why = "network namespaces need Linux"; return null; }
        if (Run("ip", "-V").Code != 0) { why = "iproute2 (ip) is not installed (.ci/run installs it)"; return null; }
        if (Run("iptables", "-V").Code != 0) { why = "iptables is not installed (.ci/run installs it; a partition is cut with it)"; return null; }
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(2)).ToLowerInvariant();
        // Probe: a namespace we may create is the permission everything else needs.
        var probe = $"cc16-{id}-probe";
        var p = Run("ip", "netns", "add", probe);
        if (p.Code != 0) { why = $"cannot create a network namespace (root / CAP_NET_ADMIN needed): {p.Stderr.Trim()}"; return null; }
        Run("ip", "netns", "del", probe);
        for (int attempt = 0; attempt < 20; attempt++)
        {
            int subnet = RandomNumberGenerator.GetInt32(1, 255);
            if (Run("ip", "-o", "addr", "show", "to", $"10.216.{subnet}.0/24").Stdout.Trim().Length > 0) continue;
            var net = new HostsNetwork(id, subnet);
            var failed = net.Steps(
                ["ip", "link", "add", net.Bridge, "type", "bridge"],
                ["ip", "addr", "add", $"{net.ClientAddress}/24", "dev", net.Bridge],
                ["ip", "addr", "add", $"{net.ServiceAddress}/24", "dev", net.Bridge],
                ["ip", "link", "set", net.Bridge, "up"]);
            if (failed is not null) { net.Dispose(); why = failed; return null; }
            return net;
        }
        why = "no free 10.216.S.0/24 subnet";
        return null;
    }

    /// <summary>Adds host <paramref name="host"/> (1..200): its namespace, veth pair on the bridge, address and default route.</summary>
    public void AddHost(int host)
    {
        string ns = Namespace(host), outer = $"cc16v{_id}h{host}", inner = $"cc16i{_id}h{host}";
        _namespaces.Add(ns);
        var failed = Steps(
            ["ip", "netns", "add", ns],
            ["ip", "link", "add", outer, "type", "veth", "peer", "name", inner],
            ["ip", "link", "set", inner, "netns", ns],
            ["ip", "link", "set", outer, "master", Bridge],
            ["ip", "link", "set", outer, "up"],
            ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
            ["ip", "netns", "exec", ns, "ip", "addr", "add", $"{HostAddress(host)}/24", "dev", inner],
            ["ip", "netns", "exec", ns, "ip", "link", "set", inner, "up"],
            ["ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", ClientAddress.ToString()]);
        if (failed is not null) throw new InvalidOperationException(failed);
    }

    /// <summary>Cuts host <paramref name="host"/> off from its peers and the database (DROP, so the others see timeouts, not refusals).</summary>
    public void Cut(int host)
    {
        var net = $"10.216.{Subnet}.0/24";
        string ns = Namespace(host), client = ClientAddress.ToString();
        var failed = Steps(
            ["ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-s", client, "-j", "ACCEPT"],
            ["ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-s", net, "-j", "DROP"],
            ["ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-d", client, "-j", "ACCEPT"],
            ["ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-d", net, "-j", "DROP"]);
        if (failed is not null) throw new InvalidOperationException(failed);
        _cut.Add(host);
    }

    public void Heal(int host)
    {
        var failed = Steps(["ip", "netns", "exec", Namespace(host), "iptables", "-F"]);
        if (failed is not null) throw new InvalidOperationException(failed);
        _cut.Remove(host);
    }

    public void Dispose()
    {
        // Deleting a namespace destroys its veth end and with it the pair; then the bridge.
        foreach (var ns in _namespaces) Run("ip", "netns", "del", ns);
        Run("ip", "link", "del", Bridge);
    }

    private string? Steps(params string[][] steps)
    {
        foreach (var step in steps)
        {
            var r = Run(step);
            if (r.Code != 0) return $"{string.Join(' ', step)} failed: {r.Stderr.Trim()}";
        }
        return null;
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] command)
    {
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(20))) { p.Kill(entireProcessTree: true); return (-1, "", "timed out"); }
            p.WaitForExit();
            return (p.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception ex) { return (-1, "", ex.Message); }
    }
}
