using CacheCluster.Conformance.Tests.Support;
using CacheCluster.TestOrigin;
using static CacheCluster.Conformance.Tests.Support.Dsl;

namespace CacheCluster.Conformance.Tests;

/// <summary>
/// Vary (RFC 9111 4.1): one stored variant per normalised combination of the listed request headers. Cases that
/// need variants to be stored fail until Vary support lands; those that only check "not reused" pass already
/// (Vary responses are not stored at all yet).
/// </summary>
public sealed class VaryConformanceTests(SingleNode host) : IClassFixture<SingleNode>
{
    private static ScriptedResponse Varies(string vary) => R(D("Expires", 5000), D("Last-Modified", -3000), D("Date", 0), H("Vary", vary));

    private static ConformanceCase Two(string id, string title, ScriptedResponse origin, (string, string)[] first, (string, string)[] second, Expect expect) =>
        new(id, "RFC 9111 4.1", title,
            new Step { Request = first, Origin = origin },
            new Step { Request = second, Origin = origin, Expect = expect, Body = expect == Expect.Cached ? "body-1" : "body-2" });

    public static TheoryData<ConformanceCase> Cases() => new()
    {
        Two("vary-match", "same selecting header value: reused", Varies("Foo"), [("Foo", "1")], [("Foo", "1")], Expect.Cached),
        Two("vary-no-match", "different selecting header value: not reused", Varies("Foo"), [("Foo", "1")], [("Foo", "2")], Expect.NotCached),
        Two("vary-omit", "selecting header absent now: not reused", Varies("Foo"), [("Foo", "1")], [], Expect.NotCached),
        Two("vary-omit-both", "selecting header absent in both: reused", Varies("Foo"), [], [], Expect.Cached),
        Two("vary-other-header-ignored", "headers not listed in Vary do not matter", Varies("Foo"), [("Foo", "1"), ("Other", "2")], [("Foo", "1"), ("Other", "3")], Expect.Cached),
        Two("vary-case-insensitive-name", "Vary field names are case-insensitive", Varies("foo"), [("Foo", "1")], [("FOO", "1")], Expect.Cached),
        Two("vary-2-match", "two selecting headers match", Varies("Foo, Bar"), [("Foo", "1"), ("Bar", "abc")], [("Foo", "1"), ("Bar", "abc")], Expect.Cached),
        Two("vary-2-no-match", "one of two selecting headers differs", Varies("Foo, Bar"), [("Foo", "1"), ("Bar", "abc")], [("Foo", "2"), ("Bar", "abc")], Expect.NotCached),
        Two("vary-2-omit", "one of two selecting headers absent now", Varies("Foo, Bar"), [("Foo", "1")], [], Expect.NotCached),
        Two("vary-3-match", "three selecting headers match", Varies("Foo, Bar, Baz"), [("Foo", "1"), ("Bar", "abc"), ("Baz", "789")], [("Foo", "1"), ("Bar", "abc"), ("Baz", "789")], Expect.Cached),
        Two("vary-3-no-match", "one of three differs", Varies("Foo, Bar, Baz"), [("Foo", "1"), ("Bar", "abc"), ("Baz", "789")], [("Foo", "2"), ("Bar", "abc"), ("Baz", "789")], Expect.NotCached),
        Two("vary-3-order", "a differing middle value is seen whatever the order", Varies("Foo, Bar, Baz"), [("Foo", "1"), ("Bar", "abc4"), ("Baz", "789")], [("Foo", "1"), ("Bar", "abc"), ("Baz", "789")], Expect.NotCached),
        Two("vary-3-omit-both", "a selecting header absent in both requests", Varies("Foo, Bar, Baz"), [("Foo", "1"), ("Baz", "789")], [("Foo", "1"), ("Baz", "789")], Expect.Cached),
        Two("vary-star", "Vary: * never matches", Varies("*"), [("Foo", "1")], [("Foo", "1")], Expect.NotCached),
        Two("vary-star-in-list", "a * anywhere in the list never matches", Varies("Foo, *"), [("Foo", "1")], [("Foo", "1")], Expect.NotCached),
        Two("vary-empty-then-star", "', *' never matches", Varies(", *"), [("Foo", "1")], [("Foo", "1")], Expect.NotCached),
        Two("vary-odd-spacing", "odd spacing in Vary is handled", Varies("  Foo ,Bar  "), [("Foo", "1"), ("Bar", "2")], [("Foo", "1"), ("Bar", "2")], Expect.Cached),
        Two("vary-normalise-space", "whitespace in a selecting value is normalised", Varies("Foo"), [("Foo", "1,2")], [("Foo", " 1, 2 ")], Expect.Cached),
        Two("vary-normalise-combine", "several field lines equal their combined value", Varies("Foo"), [("Foo", "1, 2")], [("Foo", "1"), ("Foo", "2")], Expect.Cached),
        new ConformanceCase("vary-several-lines", "RFC 9111 4.1", "several Vary field lines form one list",
            new Step { Request = [("Foo", "1"), ("Bar", "a")], Origin = R(D("Expires", 5000), D("Date", 0), H("Vary", "Foo"), H("Vary", "Bar")) },
            new Step { Request = [("Foo", "1"), ("Bar", "b")], Origin = R(D("Expires", 5000), D("Date", 0), H("Vary", "Foo"), H("Vary", "Bar")), Expect = Expect.NotCached },
            new Step { Request = [("Foo", "1"), ("Bar", "a")], Expect = Expect.Cached, Body = "body-1" }),
        new ConformanceCase("vary-variants-coexist", "RFC 9111 4.1", "a second variant does not evict the first",
            new Step { Request = [("Foo", "1")], Origin = Varies("Foo") },
            new Step { Request = [("Foo", "2")], Origin = Varies("Foo"), Expect = Expect.NotCached },
            new Step { Request = [("Foo", "1")], Expect = Expect.Cached, Body = "body-1" },
            new Step { Request = [("Foo", "2")], Expect = Expect.Cached, Body = "body-2" }),
        new ConformanceCase("vary-invalidation-removes-all", "RFC 9111 4.4", "invalidating the URL removes every variant",
            new Step { Request = [("Foo", "1")], Origin = Varies("Foo") },
            new Step { Request = [("Foo", "2")], Origin = Varies("Foo") },
            new Step { Request = [("Foo", "1")], Expect = Expect.Cached },
            new Step { Method = "POST", RequestBody = "x", Origin = R() },
            new Step { Request = [("Foo", "1")], Origin = Varies("Foo"), Expect = Expect.NotCached },
            new Step { Request = [("Foo", "2")], Origin = Varies("Foo"), Expect = Expect.NotCached }),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Case(ConformanceCase c) => host.RunAsync(c);
}
