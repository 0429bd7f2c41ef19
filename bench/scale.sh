#!/usr/bin/env bash
# Cost of a large cache: for each N in COUNTS, a fresh node (Localhost clustering, DISK_BUDGET store) is filled
# with N distinct 1 KiB entries (/s/0 .. /s/<N-1>, each asked once: the origin-miss throughput), then asked for
# uniformly random ones among them for DURATION seconds (hit req/s, p50/p99, hit ratio counted at the origin),
# while its RSS is sampled; its grain activations and store entries come from /metrics, and again after
# IDLE_WAIT seconds without requests (are idle activations collected?). One table, written to
# bench/results/scale-<stamp>.txt. Everything binds to 127.0.0.1. See bench/README.md ("scale.sh").
#
#   bench/scale.sh                                   # N = 1, 10k, 100k, 1M
#   COUNTS="1 1000" DURATION=5 IDLE_WAIT=0 bench/scale.sh   # smoke run
#
# Environment: COUNTS ("1 10000 100000 1000000"), DURATION (s, 20), WARMUP (s, 3), CONNECTIONS (32),
# FILL_CONNECTIONS (32), WRK_TIMEOUT (s, 10), DISK_BUDGET (4GiB), IDLE_WAIT (s, 200), FILL_BUDGET (s, 900: an N
# whose fill would take longer at the fill rate of the last N >= 10000 is skipped), SEED (1), LOCK
# (/tmp/bench.lock: each N runs holding it, so no other benchmark shares the cores; empty = no lock),
# SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS (extra node switches).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/bench/scale
COUNTS=${COUNTS:-"1 10000 100000 1000000"}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
FILL_CONNECTIONS=${FILL_CONNECTIONS:-32}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
DISK_BUDGET=${DISK_BUDGET:-4GiB}
IDLE_WAIT=${IDLE_WAIT:-200}
FILL_BUDGET=${FILL_BUDGET:-900}
SEED=${SEED:-1}
LOCK=${LOCK-/tmp/bench.lock}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}

NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll
TMP=$(mktemp -d /tmp/bench-scale.XXXXXX)
PIDS=()   # everything still running that this script started (common.sh's cleanup stops them)
NPID=()   # unused here (common.sh's cleanup stops bench/zipf/nodes.sh nodes through it)
STAMP=$(date +%Y%m%d-%H%M%S)
source "$ROOT/bench/zipf/common.sh" # log, die, stop_pids, cleanup (trap), free_port, wait_port, need

# ---- checks --------------------------------------------------------------------------------------
for n in $COUNTS; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "COUNTS: '$n' is not a positive number"; done
for v in DURATION WARMUP CONNECTIONS FILL_CONNECTIONS WRK_TIMEOUT IDLE_WAIT FILL_BUDGET SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((DURATION > 0 && CONNECTIONS > 0 && FILL_CONNECTIONS > 0)) || die "DURATION, CONNECTIONS and FILL_CONNECTIONS must be above 0"
need wrk wrk
need curl curl
need nginx nginx
need flock util-linux

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(loadavg)

# ---- the lock shared with the other benchmarks ----------------------------------------------------
# fd 9 holds it; every process started here gets 9>&- so that none of them can keep it after this script.
if [[ -n $LOCK ]]; then exec 9>>"$LOCK"; fi
lock() { # WHAT: wait (3 h at most) for the lock
  [[ -n $LOCK ]] || return 0
  if ! flock -n 9; then
    log "waiting for $LOCK ($1; another benchmark holds it)"
    flock -w 10800 9 || die "$LOCK still held after 3 h"
  fi
}
unlock() { [[ -z $LOCK ]] || flock -u 9; }

# ---- build, a private copy of the binaries -------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  lock "build"
  log "building src/Node (Release)"
  dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >"$TMP/build.log" 2>&1 9>&- \
    || { cat "$TMP/build.log" >&2; die "Node build failed"; }
  unlock
fi
[[ -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"
BUILT="node: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty(src)'), dll $(date -r "$NODE_DLL" '+%F %H:%M')"
# A rebuild in the work tree during the run must not change the binaries between one N and the next.
mkdir -p "$TMP/bin"
cp -a "$(dirname "$NODE_DLL")/." "$TMP/bin/"
NODE_DLL=$TMP/bin/$(basename "$NODE_DLL")

source "$HERE/procs.sh"  # start_origin, start_node, stop_node, metrics, metric, tree_rss, rss_sampler, tree_cpu_ticks
source "$HERE/phases.sh" # run_count, report

start_origin
for n in $COUNTS; do run_count "$n"; done
report
