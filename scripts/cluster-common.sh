# shellcheck shell=bash
# Shared by cluster-up.sh and cluster-down.sh (sourced, not run). Everything lives under $CLUSTER_DIR.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/.cluster}
PG_PORT=${PG_PORT:-55432}
PG_DB=${PG_DB:-cachecluster}

is_root() { [ "$(id -u)" = 0 ]; }

# PostgreSQL refuses to run as root: as root, run its programs as the postgres user.
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The newest /usr/lib/postgresql/<version>/bin with a server in it (Debian package postgresql), or nothing.
find_pg_bin() {
    local d
    for d in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

# Where the PostgreSQL data folder is (recorded by cluster-up.sh: .cluster/pg, or /tmp when the postgres user
# cannot reach .cluster).
pg_dir() {
    if [ -f "$CLUSTER_DIR/pgdir" ]; then cat "$CLUSTER_DIR/pgdir"; else echo "$CLUSTER_DIR/pg"; fi
}

# True if $1 is the pid of a running CacheCluster node (guards against a pid reused by another program).
is_node_pid() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'CacheCluster.Node.dll'
}
