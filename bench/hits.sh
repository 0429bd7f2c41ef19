#!/usr/bin/env bash
# Cache-hit throughput of one CacheCluster node next to the anchors (Apache Traffic Server, nginx proxy_cache,
# Varnish, Squid), measured with wrk in one run on this machine. Everything binds to 127.0.0.1. See bench/README.md.
#
#   bench/hits.sh                                   # node, ats, nginx, varnish: 1 KiB / 64 KiB / 1 MiB, 3 rounds
#   TARGETS="node ats" SIZES=1k ROUNDS=1 bench/hits.sh
#   TARGETS="node ats nginx varnish squid" bench/hits.sh
#
# Environment: TARGETS ("node ats nginx varnish"), SIZES ("1k 64k 1m"), ROUNDS (3: the median is reported; the
# targets take turns within a round so drift hits all alike), DURATION (s, 10), WARMUP (s, 2), CONNECTIONS (32),
# THREADS (1), SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS (extra node switches), CACHE_SIZE (256MiB for each anchor),
# NODE_DLL (the node build to run, for an A/B against another build; with SKIP_BUILD=1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGETS=${TARGETS:-"node ats nginx varnish"}
SIZES=${SIZES:-"1k 64k 1m"}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}
CACHE_SIZE=${CACHE_SIZE:-256MiB}
CACHE_MIB=${CACHE_SIZE%MiB}
OBJ_MAX_MIB=4

ORIGIN_DLL=$ROOT/tests/TestOrigin/bin/Release/net10.0/CacheCluster.TestOrigin.dll
NODE_DLL=${NODE_DLL:-$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll}
TMP=$(mktemp -d /tmp/bench-hits.XXXXXX)
PIDS=()
NPID=()
stop_nodes() { :; }

# shellcheck source=zipf/common.sh
source "$ROOT/bench/zipf/common.sh"
# shellcheck source=zipf/anchors.sh
source "$ROOT/bench/zipf/anchors.sh"
# shellcheck source=hits/anchors.sh
source "$ROOT/bench/hits/anchors.sh"

for t in $TARGETS; do
  case $t in node|ats|nginx|varnish|squid) ;; *) die "TARGETS: unknown target '$t' (node ats nginx varnish squid)";; esac
done
need wrk wrk
need curl curl
[[ " $TARGETS " == *" ats "* ]] && need traffic_server trafficserver
[[ " $TARGETS " == *" nginx "* ]] && need nginx nginx
[[ " $TARGETS " == *" varnish "* ]] && need varnishd varnish
[[ " $TARGETS " == *" squid "* ]] && need squid squid

read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average is $LOAD1 before the run; absolute figures will be low (the ratios still hold better)"
fi

# ---- build ---------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  log "building Release"
  dotnet build -c Release --nologo -v quiet "$ROOT/tests/TestOrigin/TestOrigin.csproj" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "TestOrigin build failed"; }
  if [[ " $TARGETS " == *" node "* ]]; then
    dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >>"$TMP/build.log" 2>&1 \
      || { cat "$TMP/build.log" >&2; die "Node build failed"; }
  fi
fi
[[ -f $ORIGIN_DLL ]] || die "missing $ORIGIN_DLL (build first)"

# ---- origin (the test origin: /bytes/<size> with max-age) -----------------------------------------
dotnet "$ORIGIN_DLL" --port 0 >"$TMP/origin.log" 2>&1 &
ORIGIN_PID=$!
PIDS+=("$ORIGIN_PID")
for _ in $(seq 300); do
  grep -q '^origin listening on http://' "$TMP/origin.log" && break
  kill -0 "$ORIGIN_PID" 2>/dev/null || { cat "$TMP/origin.log" >&2; die "origin exited"; }
  sleep 0.1
done
ORIGIN_PORT=$(sed -n 's#^origin listening on http://127\.0\.0\.1:\([0-9]*\)/.*#\1#p' "$TMP/origin.log" | head -n1)
[[ -n $ORIGIN_PORT ]] || die "origin did not report its port"
ORIGIN=127.0.0.1:$ORIGIN_PORT
log "origin on http://$ORIGIN/ (pid $ORIGIN_PID)"
origin_requests() { curl -s "http://$ORIGIN/_origin/stats" | sed -n 's/.*"totalRequests":\([0-9]*\).*/\1/p'; }

# ---- proxies: NAME -> port and root pid (CPU is summed over the pid's process tree) ---------------
declare -A PORT ROOTPID
for t in $TARGETS; do
  case $t in
    node) start_hits_node ;;
    nginx) start_hits_nginx ;;
    varnish) start_hits_varnish ;;
    ats|squid) "start_$t"; PORT[$t]=${T_PORTS[0]}; ROOTPID[$t]=${T_ROOTS[0]} ;;
  esac
done

# ---- warm: fetch through each proxy until the response says hit ---------------------------------
warm() { # a hit is a request the origin did not see (ATS and Varnish send no Cache-Status)
  local name=$1 port=$2 url=$3 before
  for _ in 1 2 3 4 5 6; do
    before=$(origin_requests)
    curl -s -o /dev/null --max-time 30 -x "http://127.0.0.1:$port" "$url" || die "$name: $url failed"
    [[ $(origin_requests) == "$before" ]] && return 0
    sleep 0.3
  done
  die "$name: $url still reaches the origin after 6 requests"
}
for t in $TARGETS; do
  before=$(origin_requests)
  for size in $SIZES; do warm "$t" "${PORT[$t]}" "http://$ORIGIN/bytes/$size"; done
  log "$t: warmed $SIZES ($(( $(origin_requests) - before )) origin requests)"
done

# ---- wrk, CPU ------------------------------------------------------------------------------------
tree_cpu_ticks() { # PID: user+system clock ticks of the process and its descendants
  local pids=("$1") i=0 sum=0 p
  while ((i < ${#pids[@]})); do
    p=${pids[$i]}; i=$((i + 1))
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do pids+=("$c"); done
  done
  for p in "${pids[@]}"; do
    [[ -r /proc/$p/stat ]] || continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$p"/stat)))
  done
  echo "$sum"
}
TICKS=$(getconf CLK_TCK)
mib_per_s() { # wrk prints binary units: 12.34KB / 56.78MB / 1.23GB
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "B") n /= 1048576; else if (u == "KB") n /= 1024; else if (u == "GB") n *= 1024; printf "%.1f", n }'
}
to_ms() { # wrk latency: 512.00us / 1.23ms / 2.00s
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; printf "%.2f", n }'
}

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$ROOT/bench/results"
RESULT=$ROOT/bench/results/hits-$STAMP.txt
RAW=$TMP/wrk-raw.txt
: >"$RAW"
declare -A SAMPLES  # "target size" -> "rps p50ms p99ms mibs cpu% us/req errors;..." per round

run_wrk() {
  local name=$1 size=$2 port=${PORT[$1]} url lua out c0 c1 rps tps p50 p99 errs non2xx cpu usreq
  url="http://$ORIGIN/bytes/$size"
  lua=$TMP/absolute-$size.lua
  # wrk sends absolute-form requests to the proxy: the target is the full origin URL.
  printf 'wrk.method = "GET"\nwrk.path = "%s"\nwrk.headers["Host"] = "%s"\n' "$url" "$ORIGIN" >"$lua"
  ((WARMUP > 0)) && wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$lua" "http://127.0.0.1:$port" >/dev/null
  c0=$(tree_cpu_ticks "${ROOTPID[$name]}")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$lua" "http://127.0.0.1:$port")
  c1=$(tree_cpu_ticks "${ROOTPID[$name]}")
  printf '==== %s %s round %s: wrk -t%s -c%s -d%ss --latency (wrk.path=%s) http://127.0.0.1:%s\n%s\n\n' \
    "$name" "$size" "$3" "$THREADS" "$CONNECTIONS" "$DURATION" "$url" "$port" "$out" >>"$RAW"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  tps=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TICKS" -v d="$DURATION" 'BEGIN { printf "%.0f", (b - a) / t / d * 100 }')
  usreq=$(awk -v a="$c0" -v b="$c1" -v t="$TICKS" -v r="$rps" -v d="$DURATION" 'BEGIN { printf "%.1f", (r > 0 ? (b - a) / t / (r * d) * 1e6 : 0) }')
  SAMPLES["$name $size"]+="${rps:-0} $p50 $p99 $(mib_per_s "${tps:-0B}") $cpu $usreq $(( ${errs:-0} + ${non2xx:-0} ));"
  log "$(printf 'round %s %-7s %-4s %9s req/s  p50 %6s ms  p99 %7s ms  %7s MiB/s  cpu %4s%%  %6s us/req' "$3" "$name" "$size" "${rps:-?}" "$p50" "$p99" "$(mib_per_s "${tps:-0B}")" "$cpu" "$usreq")"
}

declare -A ORIGIN_DURING
for ((round = 1; round <= ROUNDS; round++)); do
  for size in $SIZES; do
    for t in $TARGETS; do
      before=$(origin_requests)
      run_wrk "$t" "$size" "$round"
      ORIGIN_DURING[$t]=$(( ${ORIGIN_DURING[$t]:-0} + $(origin_requests) - before ))
    done
  done
done

# ---- report: the median round of each target and size (by req/s), and the ratio to ATS -------------
median_of() { # "a b c ...;a b c ...;" -> the sample whose req/s is the median
  tr ';' '\n' <<<"$1" | sed '/^$/d' | sort -n -k1,1 | awk '{ row[NR] = $0 } END { print row[int((NR + 1) / 2)] }'
}
{
  echo "cache hits: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (warm-up ${WARMUP}s), absolute-form GET through each proxy; median of $ROUNDS rounds (targets take turns)"
  echo "date $(date -Is)  host $(hostname)  cores $(nproc)  load-before $LOAD1  commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')"
  echo "cpu: the proxy's processes (user+system) during the measured run; us/req = CPU microseconds per request"
  echo
  printf '%-8s %-5s %10s %8s %9s %9s %6s %8s %7s %9s\n' proxy size req/s p50-ms p99-ms MiB/s cpu% us/req errors vs-ats
  for size in $SIZES; do
    ats_rps=""
    [[ -n ${SAMPLES["ats $size"]:-} ]] && ats_rps=$(median_of "${SAMPLES["ats $size"]}" | awk '{print $1}')
    for t in $TARGETS; do
      read -r rps p50 p99 mibs cpu usreq errs <<<"$(median_of "${SAMPLES["$t $size"]}")"
      ratio=$([[ -n $ats_rps ]] && awk -v a="$rps" -v b="$ats_rps" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }' || echo -)
      printf '%-8s %-5s %10s %8s %9s %9s %6s %8s %7s %9s\n' "$t" "$size" "$rps" "$p50" "$p99" "$mibs" "$cpu" "$usreq" "$errs" "$ratio"
    done
  done
  echo
  for t in $TARGETS; do echo "$t: origin requests during the measured load: ${ORIGIN_DURING[$t]}"; done
} >"$RESULT.table"
cat "$RESULT.table"
{ cat "$RESULT.table"; echo; echo "---- raw wrk output"; cat "$RAW"; } >"$RESULT"
rm -f "$RESULT.table"
log "results written to ${RESULT#"$ROOT"/}"
