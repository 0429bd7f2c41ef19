namespace CacheCluster.Caching;

/// <summary>
/// Freshness rules shipped on by default (Cache:PackageRules), consulted after the operator's own rules: the
/// first job of a campus cache is OS and language-package downloads, and package servers often send no
/// freshness and no validators at all, which RFC 9111 alone would never store. Like Debian's squid.conf:
/// artifacts whose name changes with their content are fresh for 90 days; the indexes that name them are
/// stored but revalidated on every use, so a client never sees an index older than the mirror's.
/// Explicit freshness from the origin always wins (no override-expire).
/// </summary>
public static class PackageRefreshRules
{
    private const string Immutable = "129600 100% 129600 override-lastmod"; // 90 days, whatever Last-Modified says
    private const string EveryUse = "0 0% 0";

    /// <summary>The rules, in order (first match wins): exceptions and indexes before the artifacts.</summary>
    public static readonly IReadOnlyList<string> Lines =
    [
        // Indexes: revalidated every time (a changed mirror is seen at once).
        @"-i /(Packages|Sources|Contents-[^/]+|Translation-[^/]+|Components-[^/]+|Commands-[^/]+)(\.(gz|bz2|xz|lz4|zst))?$ " + EveryUse,
        @"-i /(Release|Release\.gpg|InRelease)$ " + EveryUse,
        @"-i /repodata/repomd\.xml(\.asc)?$ " + EveryUse,
        @"/APKINDEX\.tar\.gz$ " + EveryUse,
        @"-i /maven-metadata\.xml(\.(sha1|md5|sha256|sha512))?$ " + EveryUse,
        @"-SNAPSHOT/ " + EveryUse, // Maven snapshots change under one name
        // Debian/Ubuntu: by-hash indexes are named by their content; packages and source packages by version.
        @"/by-hash/(SHA256|SHA512|MD5Sum)/[0-9a-fA-F]+$ " + Immutable,
        @"-i \.(deb|udeb|ddeb)$ " + Immutable,
        @"-i \.(dsc|orig\.tar\.[a-z0-9]+|debian\.tar\.[a-z0-9]+|diff\.gz)$ " + Immutable,
        // RPM, Alpine.
        @"-i \.(rpm|drpm|srpm)$ " + Immutable,
        @"\.apk$ " + Immutable,
        // Python (wheels anywhere; sdists on PyPI's file host), NuGet, npm tarballs, Maven, Rust crates.
        @"-i \.whl$ " + Immutable,
        @"^https?://files\.pythonhosted\.org/packages/ " + Immutable,
        @"-i \.(nupkg|snupkg)$ " + Immutable,
        @"/-/[^/]+\.tgz$ " + Immutable,
        @"\.(jar|pom|aar)$ " + Immutable,
        @"\.crate$ " + Immutable,
        // Installer images.
        @"-i \.(iso|img)$ " + Immutable,
    ];

    /// <summary>The parsed rules (the lines are tested: a bad one fails the build's tests, not a node's start).</summary>
    public static readonly IReadOnlyList<FreshnessRule> Rules = FreshnessRule.ParseAll(Lines);
}
