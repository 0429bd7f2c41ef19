#!/usr/bin/env bash
# Zipf-mix benchmark: a working set larger than the cache, eviction all the time. One origin (nginx) serves a
# deterministic, generated object set; wrk asks for objects drawn Zipf(S) by popularity through each target in
# turn (our node, Apache Traffic Server, Squid: same cache size, each started cold), and the script reports
# req/s, p50/p99, hit ratio and byte hit ratio (counted at the origin), errors and peak RSS. Everything binds to
# 127.0.0.1 and all load goes to loopback. See bench/README.md ("Zipf mix").
#
#   bench/zipf.sh                                      # node, ats, squid: 20,000 objects, 20 s warm-up + 90 s
#   OBJECTS=2000 DURATION=10 WARMUP=5 bench/zipf.sh    # smoke run
#   TARGETS=node NODES=3 JOIN=1 bench/zipf.sh          # a 3-node cluster, a 4th node joins after 1/3 of the run
#
# Environment: TARGETS ("node ats squid"), OBJECTS (20000), SIZE_MEDIAN (8192 B), SIZE_SIGMA (1.7), SIZE_CAP
# (2 MiB), ZIPF (0.9), SEED (1), CACHE_SIZE (256MiB), DURATION (s, 90), WARMUP (s, 20), WARMUP_REQUESTS (0: the
# warm-up ends after this many requests instead, WARMUP seconds at most), CONNECTIONS (32),
# THREADS (1), WRK_TIMEOUT (s, 10), NODES (1), JOIN (0), SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS, NODE_DLL (the node
# build to run, for an A/B against another build; with SKIP_BUILD=1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/bench/zipf
TARGETS=${TARGETS:-"node ats squid"}
OBJECTS=${OBJECTS:-20000}
SIZE_MEDIAN=${SIZE_MEDIAN:-8192}
SIZE_SIGMA=${SIZE_SIGMA:-1.7}
SIZE_CAP=${SIZE_CAP:-2097152}
ZIPF=${ZIPF:-0.9}
SEED=${SEED:-1}
CACHE_SIZE=${CACHE_SIZE:-256MiB}
DURATION=${DURATION:-90}
WARMUP=${WARMUP:-20}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-0}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
NODES=${NODES:-1}
JOIN=${JOIN:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}
OBJ_MAX_MIB=4   # maximum object size every proxy is told (the set's largest is SIZE_CAP)

NODE_DLL=${NODE_DLL:-$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll}
TMP=$(mktemp -d /tmp/bench-zipf.XXXXXX)
PIDS=()   # everything still running that this script started
NPID=()   # the nodes' pids (nodes.sh); known to cleanup before that is sourced
STAMP=$(date +%Y%m%d-%H%M%S)

source "$HERE/common.sh" # log, die, stop_pids, cleanup, free_port, wait_port, need
source "$HERE/anchors.sh"
source "$HERE/nodes.sh"

# ---- checks --------------------------------------------------------------------------------------
for t in $TARGETS; do [[ $t == node || $t == ats || $t == squid ]] || die "TARGETS: unknown target '$t' (node, ats, squid)"; done
[[ $NODES =~ ^[1-9]$ ]] || die "NODES must be 1..9"
[[ $WARMUP_REQUESTS =~ ^[0-9]+$ ]] || die "WARMUP_REQUESTS must be a number"
[[ $JOIN == 0 || $NODES -gt 1 ]] || die "JOIN=1 needs NODES > 1"
CACHE_MIB=$(awk -v s="$CACHE_SIZE" 'BEGIN { n = s + 0; u = tolower(s); sub(/^[0-9.]+/, "", u)
  if (u == "" || u == "m" || u == "mib" || u == "mb") m = n; else if (u == "g" || u == "gib" || u == "gb") m = n * 1024; else m = -1
  printf "%d", m }')
((CACHE_MIB >= 128)) || die "CACHE_SIZE '$CACHE_SIZE': give MiB or GiB, at least 128MiB (ATS's smallest cache)"
need wrk wrk
need curl curl
need python3 python3
need nginx nginx
[[ " $TARGETS " == *" ats "* ]] && need traffic_server trafficserver
[[ " $TARGETS " == *" squid "* ]] && need squid squid

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
LOAD_BEFORE=$(loadavg)
warn_load() { # the 1-minute load average above 0.5 on 2 cores: every figure is skewed by other work
  local l
  read -r l _ </proc/loadavg
  awk -v l="$l" 'BEGIN { exit !(l > 0.5) }' && log "warning: load average is $(loadavg) $1; figures will be low and noisy"
  return 0
}
warn_load "before the run"

# ---- build ---------------------------------------------------------------------------------------
BUILT=""
if [[ " $TARGETS " == *" node "* ]]; then
  if [[ $SKIP_BUILD != 1 ]]; then
    log "building src/Node (Release)"
    dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >"$TMP/build.log" 2>&1 \
      || { cat "$TMP/build.log" >&2; die "Node build failed"; }
  fi
  [[ -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"
  BUILT="node: commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo '+dirty(src)'), dll $(date -r "$NODE_DLL" '+%F %H:%M')"
  # A private copy: a rebuild in the work tree during the run must not change the binaries.
  mkdir -p "$TMP/bin"
  cp -a "$(dirname "$NODE_DLL")/." "$TMP/bin/"
  NODE_DLL=$TMP/bin/$(basename "$NODE_DLL")
fi

# ---- object set and origin -------------------------------------------------------------------------
log "generating $OBJECTS objects"
SET_INFO=$(python3 "$HERE/gen.py" "$TMP/objects" --objects "$OBJECTS" --median "$SIZE_MEDIAN" --sigma "$SIZE_SIGMA" \
  --cap "$SIZE_CAP" --seed "$SEED" --zipf "$ZIPF" --cache $((CACHE_MIB * 1048576))) || die "object generation failed"
log "$(head -n1 <<<"$SET_INFO")"
start_origin
curl -sfS -o /dev/null --max-time 10 "http://$ORIGIN/z/1.bin" || die "the origin does not serve /z/1.bin"

source "$HERE/measure.sh"

for t in $TARGETS; do run_target "$t"; done
report
