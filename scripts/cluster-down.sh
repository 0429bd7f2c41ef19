#!/usr/bin/env bash
# Stops what scripts/cluster-up.sh started: every node (SIGTERM, then SIGKILL after STOP_TIMEOUT seconds,
# default 20) and the throw-away PostgreSQL. Only processes recorded in .cluster/ are touched.
#
#   scripts/cluster-down.sh [--purge]    --purge: also delete .cluster/ (node stores, database, logs)
set -euo pipefail
# shellcheck source=scripts/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

PURGE=0
case "${1:-}" in
    "") ;;
    --purge) PURGE=1 ;;
    *) echo "usage: $0 [--purge]" >&2; exit 2 ;;
esac
STOP_TIMEOUT=${STOP_TIMEOUT:-20}

# ---- nodes ---------------------------------------------------------------------------------------------------
pids=()
for pidfile in "$CLUSTER_DIR"/node*/pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if is_node_pid "$pid"; then
        echo "== stopping $(basename "$(dirname "$pidfile")") (pid $pid, SIGTERM)"
        kill -TERM "$pid"
        pids+=("$pid")
    else
        rm -f "$pidfile"
    fi
done
for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
    alive=()
    for pid in "${pids[@]}"; do is_node_pid "$pid" && alive+=("$pid"); done
    pids=("${alive[@]}")
    [ ${#pids[@]} -eq 0 ] && break
    sleep 0.1
done
for pid in "${pids[@]}"; do
    if is_node_pid "$pid"; then echo "== pid $pid still running after ${STOP_TIMEOUT}s: SIGKILL"; kill -KILL "$pid"; fi
done
rm -f "$CLUSTER_DIR"/node*/pid

# ---- PostgreSQL ----------------------------------------------------------------------------------------------
PG_DIR=$(pg_dir)
if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    if PG_BIN=$(find_pg_bin); then
        echo "== stopping PostgreSQL ($PG_DIR/data)"
        (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null) || echo "pg_ctl stop failed; see $PG_DIR/postgres.log" >&2
    else
        echo "PostgreSQL binaries not found; cannot stop the server in $PG_DIR/data" >&2
    fi
fi

if [ "$PURGE" = 1 ]; then
    echo "== deleting $CLUSTER_DIR${PG_DIR:+ and $PG_DIR}"
    [ "$PG_DIR" != "$CLUSTER_DIR/pg" ] && rm -rf "$PG_DIR"
    rm -rf "$CLUSTER_DIR"
fi
echo "== cluster down"
