#!/usr/bin/env bash
# Soak: a 3-node cluster (NODES=1: a single node) on loopback (Localhost clustering, no database) under the Zipf mix of bench/zipf.sh for a
# bounded time. Every SAMPLE seconds, for each node: RSS, open file handles (/proc/PID/fd), grain activations,
# store entries and disk bytes, requests and errors so far (from /metrics), appended to a CSV; at the end, the
# first and last samples side by side and wrk's own error counts. Nothing should grow without bound; no errors.
# Everything binds to 127.0.0.1 and all load goes to loopback. Not run in CI.
#
#   bench/soak.sh                                   # 30 minutes, a sample a minute
#   DURATION_MIN=10 bench/soak.sh                   # shorter
#   DURATION_MIN=2 SAMPLE=15 OBJECTS=2000 bench/soak.sh   # smoke run
#
# Environment: DURATION_MIN (30), SAMPLE (s, 60), NODES (3), OBJECTS (20000), SIZE_MEDIAN (8192 B), SIZE_SIGMA
# (1.7), SIZE_CAP (2 MiB), ZIPF (0.9), SEED (1), CACHE_SIZE (256MiB per node), CONNECTIONS (4 per node), WRK_TIMEOUT
# (s, 10), CSV (file; default bench/results/soak-<time>.csv), SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$ROOT/bench/zipf
DURATION_MIN=${DURATION_MIN:-30}
SAMPLE=${SAMPLE:-60}
NODES=${NODES:-3}
OBJECTS=${OBJECTS:-20000}
SIZE_MEDIAN=${SIZE_MEDIAN:-8192}
SIZE_SIGMA=${SIZE_SIGMA:-1.7}
SIZE_CAP=${SIZE_CAP:-2097152}
ZIPF=${ZIPF:-0.9}
SEED=${SEED:-1}
CACHE_SIZE=${CACHE_SIZE:-256MiB}
CONNECTIONS=${CONNECTIONS:-4}
WRK_TIMEOUT=${WRK_TIMEOUT:-10}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}
STAMP=$(date +%Y%m%d-%H%M%S)
CSV=${CSV:-$ROOT/bench/results/soak-$STAMP.csv}

NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll
TMP=$(mktemp -d /tmp/bench-soak.XXXXXX)
PIDS=()
NPID=()

source "$HERE/common.sh" # log, die, stop_pids, cleanup, free_port, wait_port, need
source "$HERE/anchors.sh" # start_origin
source "$HERE/nodes.sh"   # start_node, wait_node, wait_views, stop_nodes

[[ $DURATION_MIN =~ ^[1-9][0-9]*$ ]] && ((DURATION_MIN <= 1440)) || die "DURATION_MIN must be 1..1440"
[[ $SAMPLE =~ ^[1-9][0-9]*$ ]] || die "SAMPLE must be a number of seconds"
[[ $NODES =~ ^[1-9]$ ]] || die "NODES must be 1..9"
CACHE_MIB=$(awk -v s="$CACHE_SIZE" 'BEGIN { n = s + 0; u = tolower(s); sub(/^[0-9.]+/, "", u)
  if (u == "" || u == "m" || u == "mib" || u == "mb") m = n; else if (u == "g" || u == "gib" || u == "gb") m = n * 1024; else m = -1
  printf "%d", m }')
((CACHE_MIB >= 64)) || die "CACHE_SIZE '$CACHE_SIZE': give MiB or GiB, at least 64MiB"
need wrk wrk
need curl curl
need python3 python3
need nginx nginx

if [[ $SKIP_BUILD != 1 ]]; then
  log "building src/Node (Release)"
  dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "Node build failed"; }
fi
[[ -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"
mkdir -p "$TMP/bin"
cp -a "$(dirname "$NODE_DLL")/." "$TMP/bin/" # a rebuild during the run must not change the binaries
NODE_DLL=$TMP/bin/$(basename "$NODE_DLL")

log "generating $OBJECTS objects"
python3 "$HERE/gen.py" "$TMP/objects" --objects "$OBJECTS" --median "$SIZE_MEDIAN" --sigma "$SIZE_SIGMA" \
  --cap "$SIZE_CAP" --seed "$SEED" --zipf "$ZIPF" --cache $((CACHE_MIB * 1048576)) | sed -n 1p >&2 || die "object generation failed"
start_origin
curl -sfS -o /dev/null --max-time 10 "http://$ORIGIN/z/1.bin" || die "the origin does not serve /z/1.bin"

start_node 1
wait_node 1
for ((i = 2; i <= NODES; i++)); do start_node "$i"; done
for ((i = 2; i <= NODES; i++)); do wait_node "$i"; done
((NODES > 1)) && wait_views "$NODES" # a single node owns everything
log "$NODES nodes up: $(for ((i = 1; i <= NODES; i++)); do printf 'node%s proxy %s pid %s; ' "$i" "${NPROXY[i]}" "${NPID[i]}"; done)"

# One wrk per node, all for the whole run, each with its own seed (different request sequences).
SECONDS_TOTAL=$((DURATION_MIN * 60))
WRK_PIDS=()
for ((i = 1; i <= NODES; i++)); do
  ZIPF_SIZES=$TMP/objects/sizes.txt ZIPF_ORIGIN=$ORIGIN ZIPF_S=$ZIPF ZIPF_SEED=$((SEED * 100 + i)) \
    wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_TOTAL}s" --timeout "${WRK_TIMEOUT}s" -s "$HERE/zipf.lua" \
    "http://127.0.0.1:${NPROXY[i]}" >"$TMP/wrk$i.log" 2>&1 &
  WRK_PIDS+=($!)
  PIDS+=($!)
done

# metric I NAME [LABELS]: the sum of a metric's samples on node I (0 when absent).
metric() {
  curl -sS --max-time 10 "http://127.0.0.1:${NMGMT[$1]}/metrics" 2>/dev/null \
    | awk -v name="$2" -v labels="${3:-}" '$1 ~ "^"name"({|$)" && (labels == "" || index($1, labels)) { s += $2 } END { printf "%.0f", s }'
}
mkdir -p "$(dirname "$CSV")"
echo "elapsed_s,node,rss_kib,fds,activations,entry_activations,store_entries,store_disk_bytes,requests,errors,hits,load1" >"$CSV"
sample() {
  local t=$1 i pid rss fds
  for ((i = 1; i <= NODES; i++)); do
    pid=${NPID[i]}
    kill -0 "$pid" 2>/dev/null || die "node$i (pid $pid) is gone; log: ${NLOG[i]}"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    printf '%s,node%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$t" "$i" "$rss" "$fds" \
      "$(metric "$i" cachecluster_grain_activations)" "$(metric "$i" cachecluster_grain_activations CacheEntryGrain)" \
      "$(metric "$i" cachecluster_store_entries)" "$(metric "$i" cachecluster_store_disk_bytes)" \
      "$(metric "$i" cachecluster_requests_total)" "$(metric "$i" cachecluster_requests_total 'outcome="error"')" \
      "$(metric "$i" cachecluster_requests_total 'outcome="hit"')" "$(cut -d' ' -f1 /proc/loadavg)" >>"$CSV"
  done
}

log "soak: $DURATION_MIN min, a sample every $SAMPLE s -> $CSV"
START=$SECONDS
sample 0
while ((SECONDS - START < SECONDS_TOTAL)); do
  sleep $((SAMPLE < SECONDS_TOTAL - (SECONDS - START) ? SAMPLE : SECONDS_TOTAL - (SECONDS - START)))
  sample $((SECONDS - START))
  log "$(tail -n "$NODES" "$CSV" | awk -F, '{ printf "%s rss %d MiB fds %s act %s entries %s err %s; ", $2, $3 / 1024, $4, $5, $7, $10 }')"
done
for p in "${WRK_PIDS[@]}"; do wait "$p" || true; done

echo "== wrk (per node)"
for ((i = 1; i <= NODES; i++)); do
  printf 'node%s: %s; %s\n' "$i" "$(grep -E 'requests in' "$TMP/wrk$i.log" | xargs)" \
    "$(grep -E 'Socket errors|Non-2xx' "$TMP/wrk$i.log" | xargs || true)"
done
echo "== first and last sample"
awk -F, -v n="$NODES" 'NR == 1 { print; next } { rows[NR] = $0 } END { for (i = 2; i <= 1 + n; i++) print rows[i]; for (i = NR - n + 1; i <= NR; i++) print rows[i] }' "$CSV" | column -t -s,
echo "CSV: $CSV"
grep -h -E '^(fail|crit):' "${NLOG[@]:1}" | sort | uniq -c | sort -rn | head -n 10 || true
# Each node's warnings and failures with the lines that follow them (messages, stack traces), kept beside the CSV.
for ((i = 1; i <= NODES; i++)); do
  grep -A8 -E '^(warn|fail|crit):' "${NLOG[i]}" >"${CSV%.csv}-node$i-warnings.log" 2>/dev/null || rm -f "${CSV%.csv}-node$i-warnings.log"
done
