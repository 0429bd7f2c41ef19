using CacheCluster.Management.Tests.Support;
using CacheCluster.Management.V1;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace CacheCluster.Management.Tests;

/// <summary>Every RPC end to end: a real gRPC client against the management ports of a running three-node cluster.</summary>
public class ApiTests(ManagedCluster c) : IClassFixture<ManagedCluster>
{
    [Fact]
    public async Task Any_node_reports_every_node_of_the_cluster()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        await c.GetAsync(0, url);
        for (int i = 0; i < 3; i++)
        {
            var status = await c.Client(i).GetClusterStatusAsync(new ClusterStatusRequest(), ManagedCluster.Call);
            Assert.Equal(ManagedCluster.NodeName(c.Nodes[i]), status.AnsweredBy);
            Assert.Equal(c.Nodes.Select(ManagedCluster.NodeName).Order(), status.Nodes.Select(n => n.Name).Order());
            foreach (var n in status.Nodes)
            {
                Assert.Equal("Active", n.State);
                Assert.Equal("", n.Error);
                Assert.NotEmpty(n.Version);
                Assert.True(n.UptimeSeconds >= 0);
                Assert.Single(n.ProxyAddresses);
                Assert.Single(n.ManagementAddresses);
                Assert.NotEqual(n.ProxyAddresses[0], n.ManagementAddresses[0]);
            }
            Assert.True(status.Nodes.Sum(n => n.Entries) >= 1, "the stored entry is counted on its owner");
        }
    }

    [Fact]
    public async Task Missing_or_wrong_token_is_unauthenticated_but_health_needs_none()
    {
        var client = c.Client(1);
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await client.GetClusterStatusAsync(new ClusterStatusRequest()));
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        Assert.Contains("token", missing.Status.Detail);
        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.PurgeAsync(new PurgeRequest { Url = "http://example.org/" }, new Metadata { { "authorization", "Bearer nope-nope-nope-nope" } }));
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Contains("wrong", wrong.Status.Detail);

        var health = new Health.HealthClient(c.Channel(1));
        var reply = await health.CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
    }

    [Fact]
    public async Task Reflection_lists_the_management_health_and_reflection_services()
    {
        var reflection = new ServerReflection.ServerReflectionClient(c.Channel(2));
        using var call = reflection.ServerReflectionInfo(ManagedCluster.Auth);
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("cachecluster.management.v1.CacheManagement", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Purging_a_url_removes_it_and_its_hot_copies_from_every_node()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/4k"));
        // Stored once, then hit twice on every node (the second hit on a node also keeps a hot copy there).
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                await c.GetAsync(i, url);
        Assert.Contains("hit", (await c.GetAsync(2, url)).CacheStatus);

        var reply = await c.Client(1).PurgeAsync(new PurgeRequest { Url = url.ToString() }, ManagedCluster.Call);
        Assert.Equal(1, reply.Purged);

        // Nothing answers from any node's cache any more (only-if-cached: 504 when not cached, hot copy or not).
        for (int i = 0; i < 3; i++)
        {
            var (cs, status, _) = await c.GetAsync(i, url, "only-if-cached");
            Assert.Equal(504, status);
            Assert.Contains("only-if-cached", cs);
        }
        var again = await c.GetAsync(0, url);
        Assert.Contains("fwd=uri-miss", again.CacheStatus);
        Assert.Equal(2, c.Origin.RequestCount(url.PathAndQuery));

        var second = await c.Client(2).PurgeAsync(new PurgeRequest { Url = url.ToString() }, ManagedCluster.Call);
        Assert.Equal(1, second.Purged);
        var none = await c.Client(2).PurgeAsync(new PurgeRequest { Url = url.ToString() }, ManagedCluster.Call);
        Assert.Equal(0, none.Purged);
    }

    [Fact]
    public async Task Purging_a_host_removes_its_entries_on_every_node_and_only_those()
    {
        var paths = Enumerable.Range(0, 6).Select(i => ManagedCluster.Unique($"/bytes/1k?n={i}")).ToList();
        foreach (var p in paths) await c.GetSiteAsync(0, "site-a.test", p);
        var other = ManagedCluster.Unique("/bytes/1k");
        await c.GetSiteAsync(0, "site-b.test", other);
        Assert.Contains("hit", await c.GetSiteAsync(1, "site-a.test", paths[0]));

        var reply = await c.Client(0).PurgeAsync(new PurgeRequest { Host = "SITE-A.test" }, ManagedCluster.Call);
        Assert.Equal(6, reply.Purged);
        Assert.Equal(3, reply.Nodes.Count);
        Assert.All(reply.Nodes, n => Assert.Equal("", n.Error));
        for (int i = 0; i < 3; i++)
        {
            foreach (var p in paths) Assert.Contains("only-if-cached", await c.GetSiteAsync(i, "site-a.test", p, "only-if-cached"));
            Assert.Contains("hit", await c.GetSiteAsync(i, "site-b.test", other));
        }
    }

    [Fact]
    public async Task Purging_a_prefix_removes_the_urls_under_it()
    {
        var dir = "/bytes/1k?dir=" + Guid.NewGuid().ToString("N")[..8];
        var under = Enumerable.Range(0, 4).Select(i => c.Origin.Url($"{dir}x{i}")).ToList();
        var outside = c.Origin.Url(ManagedCluster.Unique("/bytes/1k"));
        foreach (var u in under.Append(outside)) await c.GetAsync(1, u);

        var prefix = c.Origin.Url(dir).ToString().Replace("http://127.0.0.1", "HTTP://127.0.0.1");
        var reply = await c.Client(2).PurgeAsync(new PurgeRequest { Prefix = prefix }, ManagedCluster.Call);
        Assert.Equal(4, reply.Purged);
        foreach (var u in under) Assert.Equal(504, (await c.GetAsync(0, u, "only-if-cached")).Status);
        Assert.Contains("hit", (await c.GetAsync(0, outside)).CacheStatus);
    }

    [Fact]
    public async Task Purging_a_surrogate_key_removes_entries_tagged_by_Surrogate_Key_or_Cache_Tag()
    {
        var tag = "t" + Guid.NewGuid().ToString("N")[..10];
        var tagged = new[]
        {
            c.Origin.Url(ManagedCluster.Unique($"/bytes/1k?skey={tag}%20other")),
            c.Origin.Url(ManagedCluster.Unique($"/bytes/2k?skey=first%20{tag}")),
            c.Origin.Url(ManagedCluster.Unique($"/bytes/1k?ctag=x,{tag}")),
        };
        var untagged = c.Origin.Url(ManagedCluster.Unique($"/bytes/1k?skey={tag}x%20other"));
        foreach (var u in tagged.Append(untagged)) await c.GetAsync(2, u);

        var reply = await c.Client(0).PurgeAsync(new PurgeRequest { SurrogateKey = tag }, ManagedCluster.Call);
        Assert.Equal(3, reply.Purged);
        foreach (var u in tagged) Assert.Equal(504, (await c.GetAsync(1, u, "only-if-cached")).Status);
        Assert.Contains("hit", (await c.GetAsync(1, untagged)).CacheStatus);
    }

    [Fact]
    public async Task Purge_without_a_target_or_with_a_bad_one_names_the_field()
    {
        var client = c.Client(0);
        var none = await Assert.ThrowsAsync<RpcException>(async () => await client.PurgeAsync(new PurgeRequest(), ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, none.StatusCode);
        Assert.StartsWith("target:", none.Status.Detail);
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await client.PurgeAsync(new PurgeRequest { Url = "ftp://x/" }, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.StartsWith("url:", bad.Status.Detail);
        var prefix = await Assert.ThrowsAsync<RpcException>(async () => await client.PurgeAsync(new PurgeRequest { Prefix = "/static/" }, ManagedCluster.Call));
        Assert.StartsWith("prefix:", prefix.Status.Detail);
    }

    [Fact]
    public async Task Inspect_shows_size_age_freshness_validators_owner_and_hits()
    {
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/3k?etag=v1&cc=max-age%3D600"));
        await c.GetAsync(0, url);
        await c.GetAsync(1, url);
        var reply = await c.Client(2).InspectAsync(new InspectRequest { Url = url.ToString() }, ManagedCluster.Call);
        var v = Assert.Single(reply.Variants);
        Assert.Equal(url.ToString(), v.CacheKey);
        Assert.Equal(200, v.Status);
        Assert.Equal(3 * 1024, v.BodyBytes);
        Assert.Equal("\"v1\"", v.Etag);
        Assert.InRange(v.FreshnessLeftSeconds, 500, 600);
        Assert.InRange(v.AgeSeconds, 0, 100);
        Assert.True(v.Hits >= 1);
        Assert.Contains(v.Owner, c.Nodes.Select(ManagedCluster.NodeName));
        Assert.Equal(reply.Owner, v.Owner);
        Assert.Contains(v.Headers, h => h.Name == "Cache-Control" && h.Value == "max-age=600");

        var missing = await Assert.ThrowsAsync<RpcException>(async () =>
            await c.Client(2).InspectAsync(new InspectRequest { Url = c.Origin.Url(ManagedCluster.Unique("/bytes/1k")).ToString() }, ManagedCluster.Call));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Stats_count_requests_by_outcome_with_bytes_and_origin_latency()
    {
        var client = c.Client(0);
        var name = ManagedCluster.NodeName(c.Nodes[1]);
        var before = (await client.GetStatsAsync(new StatsRequest { Node = name }, ManagedCluster.Call)).Nodes.Single().Counters;
        var url = c.Origin.Url(ManagedCluster.Unique("/bytes/16k"));
        await c.GetAsync(1, url);                                                                  // miss (stored)
        await c.GetAsync(1, url);                                                                  // hit
        await c.GetAsync(1, url);                                                                  // hit
        await c.GetAsync(1, c.Origin.Url(ManagedCluster.Unique("/bytes/1k?cc=private")));         // pass
        await c.GetAsync(1, new Uri("http://127.0.0.1:1/refused"));                               // error (502)

        // Counted when each response has been sent: allow a moment.
        Counters after = before;
        for (int i = 0; i < 50 && after.Requests < before.Requests + 5; i++)
        {
            await Task.Delay(100);
            after = (await client.GetStatsAsync(new StatsRequest { Node = name }, ManagedCluster.Call)).Nodes.Single().Counters;
        }
        Assert.Equal(before.Miss + 1, after.Miss);
        Assert.Equal(before.Hit + 2, after.Hit);
        Assert.Equal(before.Pass + 1, after.Pass);
        Assert.Equal(before.Error + 1, after.Error);
        Assert.Equal(before.Requests + 5, after.Requests);
        Assert.InRange(after.BytesToClients - before.BytesToClients, 3 * 16 * 1024 + 1024, 3 * 16 * 1024 + 1024 + 20_000);
        Assert.InRange(after.BytesFromOrigins - before.BytesFromOrigins, 16 * 1024 + 1024, 16 * 1024 + 1024 + 5_000);
        Assert.Equal(before.OriginFetches + 3, after.OriginFetches);
        Assert.True(after.OriginLatencySecondsSum > before.OriginLatencySecondsSum);
        // Cumulative histogram: non-decreasing, and the 3 new fetches (loopback, well under 30 s) are in the last bucket.
        Assert.Equal(after.OriginLatencyBuckets.Order(), after.OriginLatencyBuckets);
        Assert.Equal(before.OriginLatencyBuckets.Last() + 3, after.OriginLatencyBuckets.Last());

        var all = await client.GetStatsAsync(new StatsRequest(), ManagedCluster.Call);
        Assert.Equal(3, all.Nodes.Count);
        Assert.Equal(all.Nodes.Sum(n => n.Counters.Requests), all.Cluster.Requests);
        Assert.Equal(all.Nodes.Sum(n => n.Counters.Hit), all.Cluster.Hit);

        var unknown = await Assert.ThrowsAsync<RpcException>(async () => await client.GetStatsAsync(new StatsRequest { Node = "no-such-node" }, ManagedCluster.Call));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Collapsed_revalidated_and_stale_requests_are_counted_as_such()
    {
        var client = c.Client(0);
        var before = (await client.GetStatsAsync(new StatsRequest(), ManagedCluster.Call)).Cluster;

        // One fetch, three requests on three nodes while it runs: the other two follow it.
        var slow = c.Origin.Url(ManagedCluster.Unique("/bytes/2k?delay=1500"));
        var burst = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => c.GetAsync(i, slow)));
        Assert.Equal(2, burst.Count(r => r.CacheStatus.Contains("collapsed")));
        // Revalidated: stale after a second, the origin answers 304 to its ETag.
        var revalidate = c.Origin.Url(ManagedCluster.Unique("/bytes/1k?etag=r1&cc=max-age%3D1"));
        await c.GetAsync(1, revalidate);
        // Stale: served stale at once within stale-while-revalidate.
        var swr = c.Origin.Url(ManagedCluster.Unique("/bytes/1k?cc=max-age%3D1%2C%20stale-while-revalidate%3D60"));
        await c.GetAsync(2, swr);
        await Task.Delay(2200);
        Assert.Contains("fwd-status=304", (await c.GetAsync(1, revalidate)).CacheStatus);
        Assert.Contains("stale-while-revalidate", (await c.GetAsync(2, swr)).CacheStatus);

        Counters after = before;
        for (int i = 0; i < 50 && after.Requests < before.Requests + 7; i++)
        {
            await Task.Delay(100);
            after = (await client.GetStatsAsync(new StatsRequest(), ManagedCluster.Call)).Cluster;
        }
        Assert.Equal(before.Miss + 3, after.Miss);
        Assert.Equal(before.Collapsed + 2, after.Collapsed);
        Assert.Equal(before.Revalidated + 1, after.Revalidated);
        Assert.Equal(before.Stale + 1, after.Stale);
        Assert.Equal(before.Requests + 7, after.Requests);
    }

    [Fact]
    public async Task Watch_pushes_stats_every_interval()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = c.Client(2).WatchStats(new WatchStatsRequest { IntervalSeconds = 1 }, ManagedCluster.Auth, cancellationToken: cts.Token);
        var times = new List<long>();
        await foreach (var s in call.ResponseStream.ReadAllAsync(cts.Token))
        {
            Assert.Equal(3, s.Nodes.Count);
            times.Add(s.AtUnixMs);
            if (times.Count == 3) break;
        }
        Assert.True(times[2] - times[0] >= 1500, $"updates at {string.Join(", ", times)}");
    }

    [Fact]
    public async Task Warm_fetches_each_url_once_through_the_single_flight_path_and_reports_each()
    {
        var urls = Enumerable.Range(0, 6).Select(i => c.Origin.Url(ManagedCluster.Unique($"/bytes/8k?w={i}")).ToString()).ToList();
        using var call = c.Client(1).Warm(ManagedCluster.Auth);
        bool first = true;
        foreach (var u in urls.Append("not a url").Append(urls[0]))
        {
            await call.RequestStream.WriteAsync(new WarmRequest { Url = u, Concurrency = first ? 2 : 0 });
            first = false;
        }
        await call.RequestStream.CompleteAsync();
        var results = new List<WarmResult>();
        await foreach (var r in call.ResponseStream.ReadAllAsync()) results.Add(r);

        Assert.Equal(8, results.Count);
        Assert.Contains(results, r => r.Url == "not a url" && r.Error.Contains("not an absolute"));
        foreach (var u in urls)
        {
            Assert.Contains(results, r => r.Url == u && r.Status == 200 && r.Bytes == 8 * 1024);
            Assert.Equal(1, c.Origin.RequestCount(new Uri(u).PathAndQuery));
            Assert.Contains("hit", (await c.GetAsync(0, new Uri(u))).CacheStatus);
        }
    }

    [Fact]
    public async Task Refresh_rules_set_through_one_node_apply_on_every_node_without_restart()
    {
        // No Cache-Control, no Last-Modified: not storable by default ...
        var marker = "rp" + Guid.NewGuid().ToString("N")[..8];
        var before = c.Origin.Url($"/bytes/1k?cc=none&{marker}=1");
        var (cs, _, _) = await c.GetAsync(0, before);
        Assert.DoesNotContain("stored", cs);

        // ... until a refresh rule gives such URLs a minimum lifetime (10 minutes).
        var rule = $"{marker} 10 20% 60";
        var reply = await c.Client(1).SetPolicyAsync(new SetPolicyRequest { Policy = new Policy { RefreshRules = { rule } }, Sections = { "refresh_rules" } }, ManagedCluster.Call);
        Assert.Equal(3, reply.Nodes.Count);
        for (int i = 0; i < 3; i++)
        {
            var policy = await c.Client(i).GetPolicyAsync(new GetPolicyRequest(), ManagedCluster.Call);
            Assert.Equal([rule], policy.RefreshRules);
        }
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var url = c.Origin.Url($"/bytes/1k?cc=none&{marker}=2&node={i}");
                Assert.Contains("stored", (await c.GetAsync(i, url)).CacheStatus);
                Assert.Contains("hit", (await c.GetAsync((i + 1) % 3, url)).CacheStatus);
            }
        }
        finally
        {
            await c.Client(0).SetPolicyAsync(new SetPolicyRequest { Policy = new Policy(), Sections = { "refresh_rules" } }, ManagedCluster.Call);
        }

        await AssertInvalidPolicyIsRefused();
    }

    private async Task AssertInvalidPolicyIsRefused()
    {
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await c.Client(0).SetPolicyAsync(
            new SetPolicyRequest { Policy = new Policy { RefreshRules = { "ok 1 20% 2", "broken" } } }, ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        Assert.StartsWith("policy.refresh_rules: line 2", bad.Status.Detail);
        var access = await Assert.ThrowsAsync<RpcException>(async () => await c.Client(0).SetPolicyAsync(
            new SetPolicyRequest { Policy = new Policy { AccessRules = { "allow src=127.0.0.0/8", "deny colour=blue" } }, Sections = { "access_rules" } },
            ManagedCluster.Call));
        Assert.Equal(StatusCode.InvalidArgument, access.StatusCode);
        Assert.StartsWith("policy.access_rules: line 2", access.Status.Detail);
    }

    [Fact] // access rules changed through any node apply on every node at once, without a restart
    public async Task Access_rules_set_through_one_node_apply_on_every_node()
    {
        var url = c.Origin.Url("/bytes/1k?access=" + Guid.NewGuid().ToString("N"));
        Assert.Equal(200, (await c.GetAsync(0, url)).Status);
        await c.Client(2).SetPolicyAsync(new SetPolicyRequest
        {
            Policy = new Policy { AccessRules = { "deny name=maintenance src=127.0.0.0/8", "allow src=0.0.0.0/0" } },
            Sections = { "access_rules" },
        }, ManagedCluster.Call);
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var (_, status, body) = await c.GetAsync(i, url);
                Assert.Equal(403, status);
                Assert.Contains("maintenance", System.Text.Encoding.UTF8.GetString(body));
                var policy = await c.Client(i).GetPolicyAsync(new GetPolicyRequest(), ManagedCluster.Call);
                Assert.Equal("deny name=maintenance src=127.0.0.0/8", policy.AccessRules[0]);
            }
        }
        finally
        {
            // No lines: back to the default rules (loopback and private-range clients).
            await c.Client(0).SetPolicyAsync(new SetPolicyRequest { Policy = new Policy(), Sections = { "access_rules" } }, ManagedCluster.Call);
        }
        for (int i = 0; i < 3; i++) Assert.Equal(200, (await c.GetAsync(i, url)).Status);
    }
}
