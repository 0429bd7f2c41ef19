using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using CacheCluster.Node.Tests.Support;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CacheCluster.Management.Tests;

/// <summary>One node whose runtime rules may read list files from one folder only.</summary>
public sealed class ListFolderNode : IAsyncLifetime
{
    public LocalCluster Cluster { get; private set; } = null!;
    public string ListDirectory { get; private set; } = null!;
    private GrpcChannel _channel = null!;
    public CacheManagement.CacheManagementClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ListDirectory = TempDir.Create("lists");
        await File.WriteAllTextAsync(Path.Combine(ListDirectory, "blocked.txt"), "# blocked\nblocked.test\n.zone.test\n");
        // A list whose second line is not a domain: the error must say which line, never what it holds.
        await File.WriteAllTextAsync(Path.Combine(ListDirectory, "secretive.txt"), "fine.test\nSECRET=hunter2-do-not-echo\n");
        File.CreateSymbolicLink(Path.Combine(ListDirectory, "escape.txt"), "/etc/passwd");
        Cluster = await LocalCluster.StartAsync(1, new Dictionary<string, string?>
        {
            ["Management:Token"] = ManagedCluster.Token,
            ["Access:ListDirectory"] = ListDirectory,
        });
        _channel = GrpcChannel.ForAddress(ManagedCluster.ManagementUri(Cluster.Nodes[0]));
        Client = new CacheManagement.CacheManagementClient(_channel);
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await Cluster.DisposeAsync();
    }
}

/// <summary>
/// The management API never reads files outside Access:ListDirectory, never echoes a file's content, and
/// bounds every input (issue 15, H2).
/// </summary>
public class InputBoundsTests(ListFolderNode env) : IClassFixture<ListFolderNode>
{
    private async Task<RpcException> RefusedAsync(params string[] accessRules)
    {
        var request = new SetPolicyRequest { Policy = new Policy(), Sections = { "access_rules" } };
        request.Policy.AccessRules.AddRange(accessRules);
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.SetPolicyAsync(request, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        return ex;
    }

    [Theory]
    [InlineData("/proc/self/environ", "outside Access:ListDirectory")]
    [InlineData("/etc/shadow", "outside Access:ListDirectory")]
    [InlineData("/dev/zero", "outside Access:ListDirectory")]
    [InlineData("../../../../proc/self/environ", "outside Access:ListDirectory")]
    [InlineData("escape.txt", "links to a file outside")]
    [InlineData("missing.txt", "does not exist")]
    public async Task A_list_file_outside_the_folder_is_refused_without_reading_it(string file, string expected)
    {
        var ex = await RefusedAsync($"deny name=x dstdomain=\"{file}\"", "allow all");
        Assert.Contains(expected, ex.Status.Detail);
        Assert.DoesNotContain("PATH=", ex.Status.Detail);
        Assert.DoesNotContain("root:", ex.Status.Detail);
    }

    [Fact]
    public async Task A_bad_line_of_a_list_file_is_named_by_number_not_content()
    {
        var ex = await RefusedAsync("deny name=x dstdomain=\"secretive.txt\"", "allow all");
        Assert.Contains("secretive.txt line 2", ex.Status.Detail);
        Assert.DoesNotContain("hunter2", ex.Status.Detail);
    }

    [Fact]
    public async Task A_list_file_in_the_folder_is_used()
    {
        var request = new SetPolicyRequest { Policy = new Policy { AccessRules = { "deny name=blocked dstdomain=\"blocked.txt\"", "allow name=ok all" } }, Sections = { "access_rules" } };
        var reply = await env.Client.SetPolicyAsync(request, ManagedCluster.Call);
        Assert.Contains("deny name=blocked dstdomain=\"blocked.txt\"", reply.Policy.AccessRules);
        using var client = env.Cluster.Nodes[0].CreateClient();
        using var denied = await client.GetAsync("http://www.zone.test/x");
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, denied.StatusCode);
        await env.Client.SetPolicyAsync(new SetPolicyRequest { Policy = new Policy(), Sections = { "access_rules" } }, ManagedCluster.Call);
    }

    [Fact]
    public async Task Oversized_inputs_are_refused_naming_the_field()
    {
        var tooMany = new SetPolicyRequest { Policy = new Policy(), Sections = { "access_rules" } };
        tooMany.Policy.AccessRules.AddRange(Enumerable.Range(0, 1001).Select(i => $"deny name=r{i} dstdomain=d{i}.test"));
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.SetPolicyAsync(tooMany, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("policy.access_rules:", ex.Status.Detail);

        var longLine = new SetPolicyRequest { Policy = new Policy { RefreshRules = { "x" + new string('a', 70_000) + " 1 20% 2" } }, Sections = { "refresh_rules" } };
        ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.SetPolicyAsync(longLine, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("policy.refresh_rules[0]:", ex.Status.Detail);

        ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.PurgeAsync(
            new PurgeRequest { Url = "http://example.test/" + new string('a', 10_000) }, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("url:", ex.Status.Detail);

        ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.GetStatsAsync(
            new StatsRequest { Node = new string('n', 1000) }, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith("node:", ex.Status.Detail);

        // The whole message is bounded too (gRPC's receive limit): 5 MiB is refused before it is parsed.
        var huge = new SetPolicyRequest { Policy = new Policy { AccessRules = { "deny dstdomain=" + new string('a', 5 << 20) } } };
        ex = await Assert.ThrowsAsync<RpcException>(async () => await env.Client.SetPolicyAsync(huge, ManagedCluster.Call));
        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
    }
}
