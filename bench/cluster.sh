#!/usr/bin/env bash
# A local CacheCluster of 3 (then 4) nodes on loopback, no database: cross-node hit throughput, cluster-wide
# single-flight and the hit ratio through a scale-out. Everything binds to 127.0.0.1 and all load goes to
# loopback. See bench/README.md ("Cluster benchmark").
#
#   bench/cluster.sh                        # A, B and C
#   PHASES="A" DURATION=30 bench/cluster.sh # only the throughput part, longer
#   KEYS=5000 PHASES="C" bench/cluster.sh   # only the scale-out part, more URLs
#
# Environment: DURATION (s, 15), WARMUP (s, 3), CONNECTIONS (32), THREADS (1), SIZES ("1k 64k"), PHASES ("A B C"),
# SF_REQUESTS (1000), SF_URL (/slow-body/256k?ms=5&delay=500), KEYS (2000), PASS_PARALLEL (32), JOIN_WAIT (s, 5),
# AFTER_PASSES (2: passes over the URLs after the 4th node joined), CHECK_OWNERS (1: compare the owners with a
# fresh 4-node cluster's),
# SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS (extra switches for every node).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
SIZES=${SIZES:-"1k 64k"}
PHASES=${PHASES:-"A B C"}
SF_REQUESTS=${SF_REQUESTS:-1000}
SF_URL=${SF_URL:-"/slow-body/256k?ms=5&delay=500"}
KEYS=${KEYS:-2000}
PASS_PARALLEL=${PASS_PARALLEL:-32}
JOIN_WAIT=${JOIN_WAIT:-5}
AFTER_PASSES=${AFTER_PASSES:-2}
CHECK_OWNERS=${CHECK_OWNERS:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}

ORIGIN_DLL=$ROOT/tests/TestOrigin/bin/Release/net10.0/CacheCluster.TestOrigin.dll
NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll
TMP=$(mktemp -d /tmp/bench-cluster.XXXXXX)
PIDS=()          # everything still running that this script started
STAMP=$(date +%Y%m%d-%H%M%S)
RUN=$STAMP-$$    # makes every URL of this run new to the cache

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# stop_pids PID...: SIGTERM, up to 30 s for a graceful exit (Orleans leaves the cluster, FASTER checkpoints), then SIGKILL.
stop_pids() {
  local pid
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid did not stop in 30 s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  local alive=() p q gone
  for p in "${PIDS[@]}"; do
    gone=0
    for q in "$@"; do [[ $p == "$q" ]] && gone=1; done
    ((gone)) || alive+=("$p")
  done
  PIDS=("${alive[@]}")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  ((${#PIDS[@]} == 0)) || stop_pids "${PIDS[@]}"
  # Nothing started here may survive: node command lines all name a store directory under $TMP.
  local left
  left=$(pgrep -f -- "--Store:Directory=$TMP/" || true)
  if [[ -n $left ]]; then
    log "error: node processes of this run still alive: $(tr '\n' ' ' <<<"$left")"
    rc=1
  fi
  if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Ports are picked below the kernel's ephemeral range: a port in it can be taken as the source port of an outgoing
# connection (curl, Orleans) between the check and the node's bind, and a connect-test would not see that.
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
if ((EPH_LO > 22000)); then PORT_LO=15000; PORT_HI=$((EPH_LO - 1)); else PORT_LO=$((EPH_HI + 1)); PORT_HI=65535; fi
port_taken() { # anything bound to, listening on or connected from 127.0.0.1:$1 (any state)?
  port_in_use "$1" && return 0
  command -v ss >/dev/null && [[ -n $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
}
USED_PORTS=" "
# free_port VAR: a free loopback port not handed out before in this run, into VAR (no subshell, so
# USED_PORTS remembers it even before anything listens on it).
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((PORT_LO + RANDOM % (PORT_HI - PORT_LO + 1)))
    [[ $USED_PORTS == *" $p "* ]] && continue
    port_taken "$p" && continue
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}

need() {
  command -v "$1" >/dev/null && return 0
  log "installing $2"
  [[ $EUID == 0 ]] || die "$1 is missing; run: sudo apt-get install -y $2"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

need wrk wrk
need curl curl
need awk gawk
# %header{...} in curl -w needs curl 7.84.
curl_ver=$(curl --version | awk 'NR == 1 {print $2}')
awk -v v="$curl_ver" 'BEGIN { split(v, a, "."); exit !(a[1] > 7 || (a[1] == 7 && a[2] >= 84)) }' \
  || die "curl $curl_ver is too old: -w %header{} needs 7.84 or later"

# B opens SF_REQUESTS client connections at once, plus as many on the nodes' side.
if (($(ulimit -n) < 2 * SF_REQUESTS + 1024)); then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  (($(ulimit -n) >= 2 * SF_REQUESTS + 1024)) || log "warning: ulimit -n is $(ulimit -n); B may run out of file descriptors"
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Other work on the machine skews every figure: say so.
read -r LOAD1 _ </proc/loadavg
LOAD_BEFORE=$(loadavg)
if awk -v l="$LOAD1" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average is $LOAD_BEFORE before the run; results will be low (check top for other jobs)"
fi

# ---- build ---------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  log "building Release"
  dotnet build -c Release --nologo -v quiet "$ROOT/tests/TestOrigin/TestOrigin.csproj" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "TestOrigin build failed"; }
  dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >>"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "Node build failed"; }
fi
[[ -f $ORIGIN_DLL ]] || die "missing $ORIGIN_DLL (build first)"
[[ -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"
# What was built, and a private copy of it: a rebuild in the work tree during the run (other work on the same
# checkout) must not change the binaries between one cluster and the next.
BUILT="commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src tests 2>/dev/null || echo '+dirty(src/tests)')"
BUILT+=", node dll $(date -r "$NODE_DLL" +%H:%M:%S)"
mkdir -p "$TMP/bin/node" "$TMP/bin/origin"
cp -a "$(dirname "$NODE_DLL")/." "$TMP/bin/node/"
cp -a "$(dirname "$ORIGIN_DLL")/." "$TMP/bin/origin/"
NODE_DLL=$TMP/bin/node/$(basename "$NODE_DLL")
ORIGIN_DLL=$TMP/bin/origin/$(basename "$ORIGIN_DLL")

# ---- origin --------------------------------------------------------------------------------------
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
origin_requests() {
  local n
  n=$(curl -sS --max-time 10 "http://$ORIGIN/_origin/stats" | sed -n 's/.*"totalRequests":\([0-9]*\).*/\1/p')
  [[ -n $n ]] || die "could not read http://$ORIGIN/_origin/stats"
  echo "$n"
}

# ---- cluster -------------------------------------------------------------------------------------
# Node i (1-based) of the current cluster: NPID[i], NPROXY[i], NSILO[i], NGW[i], NLOG[i]; named node<i>.
NPID=(); NPROXY=(); NSILO=(); NGW=(); NMGMT=(); NLOG=()
NNODES=0
CLUSTER=0      # how many clusters were started (each gets fresh stores under $TMP/c<CLUSTER>)
HOT_ARGS=()    # switches of the current cluster (hot copies on or off)
ALL_LOGS=()

# start_node I: starts node I of the current cluster (node 1 hosts the development membership).
start_node() {
  local i=$1 primary dir
  free_port "NPROXY[$i]"; free_port "NSILO[$i]"; free_port "NGW[$i]"; free_port "NMGMT[$i]"
  primary=${NSILO[1]}
  dir=$TMP/c$CLUSTER/node$i
  mkdir -p "$dir/data"
  NLOG[i]=$dir/node.log
  ALL_LOGS+=("${NLOG[i]}")
  # shellcheck disable=SC2086 # NODE_ARGS is a list of switches
  dotnet "$NODE_DLL" --Proxy:Listen=127.0.0.1:${NPROXY[i]} --Management:Listen=127.0.0.1:${NMGMT[i]} --Store:Directory="$dir/data" \
    --Cluster:SiloPort=${NSILO[i]} --Cluster:GatewayPort=${NGW[i]} --Cluster:PrimarySiloPort=$primary \
    --Cluster:ClusterId=bench --Cluster:ServiceId=bench --Node:Name=node$i --Proxy:DebugHeaders=true \
    --Logging:LogLevel:Default=Warning "${HOT_ARGS[@]}" $NODE_ARGS >"${NLOG[i]}" 2>&1 &
  NPID[i]=$!
  PIDS+=("${NPID[i]}")
  ((i > NNODES)) && NNODES=$i
  return 0
}

# wait_node I: until node I's proxy answers (90 s); restarts the node on other ports (twice at most) when one of
# its ports was taken by someone else meanwhile.
wait_node() {
  local i=$1 attempt
  for attempt in 1 2 3; do
    for _ in $(seq 900); do
      port_in_use "${NPROXY[i]}" && return 0
      kill -0 "${NPID[i]}" 2>/dev/null || break
      sleep 0.1
    done
    if ! kill -0 "${NPID[i]}" 2>/dev/null && ((attempt < 3)) && grep -q 'Address already in use' "${NLOG[i]}"; then
      log "  node$i: one of its ports was taken meanwhile; starting it again on other ports"
      stop_pids "${NPID[i]}"
      mv "${NLOG[i]}" "${NLOG[i]}.address-in-use.$attempt"
      start_node "$i"
      continue
    fi
    tail -n 40 "${NLOG[i]}" >&2 || true
    kill -0 "${NPID[i]}" 2>/dev/null && die "node$i did not listen on ${NPROXY[i]} within 90 s"
    die "node$i exited before listening on ${NPROXY[i]} (log above)"
  done
}

# owner_via I URL: X-Cache-Owner of URL asked through node I with HEAD (a HEAD never fills the cache).
owner_via() {
  curl -sS -I -o /dev/null --max-time 20 -w '%header{x-cache-owner}' -x "http://127.0.0.1:${NPROXY[$1]}" "$2" 2>/dev/null || true
}

PROBE=0
# wait_views N: until each of nodes 1..N names all N nodes as owners of some probe URLs (its membership
# view has every node active), 120 s at most.
wait_views() {
  local n=$1 i k owner seen deadline=$((SECONDS + 120))
  for ((i = 1; i <= n; i++)); do
    seen=" "
    while :; do
      ((SECONDS < deadline)) || die "node$i did not see all $n nodes within 120 s (owners seen:$seen)"
      PROBE=$((PROBE + 1))
      owner=$(owner_via "$i" "http://$ORIGIN/bytes/1?seed=probe-$RUN-$PROBE")
      [[ -n $owner && $seen != *" $owner "* ]] && seen+="$owner "
      local all=1
      for ((k = 1; k <= n; k++)); do [[ $seen == *" node$k "* ]] || all=0; done
      ((all)) && break
      ((PROBE % 40 == 0)) && sleep 0.5
    done
  done
}

# start_cluster N SWITCH...: a fresh N-node cluster (new stores) with the given extra node switches.
start_cluster() {
  local n=$1 i t0=$SECONDS
  shift
  ((NNODES == 0)) || stop_cluster
  CLUSTER=$((CLUSTER + 1))
  HOT_ARGS=("$@")
  NPID=(); NPROXY=(); NSILO=(); NGW=(); NMGMT=(); NLOG=(); NNODES=0
  start_node 1
  wait_node 1
  for ((i = 2; i <= n; i++)); do start_node "$i"; done
  for ((i = 2; i <= n; i++)); do wait_node "$i"; done
  wait_views "$n"
  log "cluster $CLUSTER: $n nodes up in $((SECONDS - t0)) s ($(for ((i = 1; i <= n; i++)); do printf 'node%s=127.0.0.1:%s ' "$i" "${NPROXY[i]}"; done)) ${HOT_ARGS[*]:-(hot copies on)}"
}

stop_cluster() {
  local i
  # What the nodes logged while measured, apart from what they log while stopping.
  for ((i = 1; i <= NNODES; i++)); do cp "${NLOG[i]}" "${NLOG[i]}.running" 2>/dev/null || true; done
  # One at a time, node1 (the membership host) last: nodes stopping together fail to reach each other.
  for ((i = NNODES; i >= 1; i--)); do stop_pids "${NPID[i]}"; done
  NNODES=0
}

# ---- helpers -------------------------------------------------------------------------------------
RESULT_DIR=$ROOT/bench/results
mkdir -p "$RESULT_DIR"
RESULT=$RESULT_DIR/cluster-$STAMP.txt
RAW=$TMP/raw.txt
: >"$RAW"
SUMMARY=()   # the final table's rows

size_bytes() { # 1k -> 1024, 64k -> 65536, 1m -> 1048576, 123 -> 123
  awk -v s="$1" 'BEGIN { n = s + 0; u = tolower(s); sub(/^[0-9]+/, "", u)
    if (u == "k") n *= 1024; else if (u == "m") n *= 1048576; else if (u == "g") n *= 1073741824; printf "%d", n }'
}
mib_per_s() { # wrk prints binary units: 12.34KB / 56.78MB / 1.23GB
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "B") n /= 1048576; else if (u == "KB") n /= 1024; else if (u == "GB") n *= 1024; else if (u == "TB") n *= 1048576
    printf "%.1f", n }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else printf "?" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.1f", 100 * a / b; else printf "?" }'; }
yesno() { awk "BEGIN { exit !($1) }" && echo yes || echo NO; }

# get_via I URL: GET through node I; prints "status<TAB>cache-status<TAB>owner<TAB>node<TAB>size".
get_via() {
  curl -sS -o /dev/null --max-time 30 -x "http://127.0.0.1:${NPROXY[$1]}" \
    -w '%{http_code}\t%header{cache-status}\t%header{x-cache-owner}\t%header{x-cache-node}\t%{size_download}' "$2"
}

# find_url I SIZE local|remote: a /bytes/SIZE URL whose owner, seen from node I, is node I (local) or another node.
find_url() {
  local i=$1 size=$2 want=$3 s url owner
  for s in $(seq 500); do
    url="http://$ORIGIN/bytes/$size?seed=$RUN-c$CLUSTER-$want-$s"
    owner=$(owner_via "$i" "$url")
    [[ -n $owner ]] || continue
    if [[ $want == local && $owner == "node$i" ]] || [[ $want == remote && $owner != "node$i" && $owner != hot-copy ]]; then
      printf '%s %s\n' "$url" "$owner"
      return 0
    fi
  done
  die "no $want $size URL found through node$i in 500 tries"
}

# warm I URL MIN OWNER: GETs through node I until (from request MIN on) a response is a hit whose X-Cache-Owner
# is OWNER, with the full body; and the hit's bytes must equal the origin's.
warm() {
  local i=$1 url=$2 min=$3 want=$4 n line code status owner size expect
  expect=$(size_bytes "$(sed 's#.*/bytes/\([^?]*\).*#\1#' <<<"$url")")
  for n in 1 2 3 4 5 6; do
    line=$(get_via "$i" "$url")
    IFS=$'\t' read -r code status owner _ size <<<"$line"
    if ((n >= min)) && [[ $code == 200 && $status == *"; hit"* && $owner == "$want" && $size == "$expect" ]]; then
      local via direct
      via=$(curl -sS --max-time 30 -x "http://127.0.0.1:${NPROXY[i]}" "$url" | sha256sum | cut -d' ' -f1)
      direct=$(curl -sS --max-time 30 "$url" | sha256sum | cut -d' ' -f1)
      [[ $via == "$direct" ]] || die "node$i served wrong bytes for $url (sha256 $via, origin's $direct)"
      log "  warm: $url -> hit, owner $owner after $n requests (bytes checked)"
      return 0
    fi
    sleep 0.2
  done
  die "node$i: $url is not a hit with X-Cache-Owner '$want' after 6 requests (last: code $code, Cache-Status '$status', owner '$owner', $size bytes)"
}

declare -A RPS P50 P99 MIBS
# run_wrk LABEL I URL: wrk through node I for one absolute-form URL; results in RPS/P50/P99/MIBS[LABEL].
run_wrk() {
  local label=$1 i=$2 url=$3 lua out tps non2xx errs port=${NPROXY[$2]}
  lua=$TMP/wrk-$label.lua
  # wrk sends absolute-form requests to the proxy: the target is the full origin URL.
  printf 'wrk.method = "GET"\nwrk.path = "%s"\nwrk.headers["Host"] = "%s"\n' "$url" "$ORIGIN" >"$lua"
  if ((WARMUP > 0)); then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$lua" "http://127.0.0.1:$port" >/dev/null
  fi
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$lua" "http://127.0.0.1:$port")
  printf '==== %s: wrk -t%s -c%s -d%ss --latency (wrk.path=%s) http://127.0.0.1:%s (node%s)  load %s\n%s\n\n' \
    "$label" "$THREADS" "$CONNECTIONS" "$DURATION" "$url" "$port" "$i" "$(loadavg)" "$out" >>"$RAW"
  RPS[$label]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  tps=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
  MIBS[$label]=$(mib_per_s "${tps:-0B}")
  P50[$label]=$(awk '$1 == "50%" {print $2}' <<<"$out")
  P99[$label]=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  A_ROWS+=("$(printf '%-16s %-5s %-8s %11s %9s %9s %9s %8s %7s' "$label" "${label##*-}" "$4" "${RPS[$label]:-?}" \
    "${P50[$label]:-?}" "${P99[$label]:-?}" "${MIBS[$label]}" "${non2xx:-0}" "${errs:-0}")")
  log "  $label: ${RPS[$label]:-?} req/s, p50 ${P50[$label]:-?}, p99 ${P99[$label]:-?}, ${MIBS[$label]} MiB/s, non-2xx ${non2xx:-0}, socket errors ${errs:-0}"
}

# curl_batch NAME N_WORKERS PARALLEL URLFILE OFFSET NODES [KEEP [CURL_ARG...]]: sends the URLs of URLFILE, URL j (0-based) through
# node ((j + OFFSET) % NODES) + 1, split over N_WORKERS curl --parallel processes started together (worker w
# uses node (w % NODES) + 1; N_WORKERS is a multiple of NODES). One line per transfer in $TMP/NAME.out:
# code, size, Cache-Status, X-Cache-Owner, X-Cache-Node, URL (tab-separated). The bodies of each worker's first
# KEEP transfers are kept in $TMP/NAME.body-W-K, the rest discarded. Sets BATCH_SECONDS.
# Note: curl 7.x silently ignores --parallel-max above 300 (falls back to 50): keep PARALLEL <= 300.
BATCH_SECONDS=0
curl_batch() {
  local name=$1 workers=$2 parallel=$3 urls=$4 offset=$5 nodes=$6 keep=${7:-0} w t0 t1 pids=() fail=0
  local extra=("${@:8}")
  rm -f "$TMP/$name".w*.cfg "$TMP/$name".body-*
  awk -v dir="$TMP" -v name="$name" -v workers="$workers" -v nodes="$nodes" -v offset="$offset" -v keep="$keep" '
    { j = NR - 1; node = (j + offset) % nodes
      # the workers of this node, in turn
      per = workers / nodes; k = int(j / nodes) % per; w = node + nodes * k
      f = dir "/" name ".w" w ".cfg"
      out = (cnt[w] + 0 < keep) ? dir "/" name ".body-" w "-" (cnt[w] + 0) : "/dev/null"
      printf "url = \"%s\"\noutput = \"%s\"\n", $0, out > f
      cnt[w]++ }' "$urls"
  t0=$(date +%s.%N)
  for ((w = 0; w < workers; w++)); do
    [[ -f $TMP/$name.w$w.cfg ]] || continue
    curl -sS --parallel --parallel-immediate --parallel-max "$parallel" --max-time 120 "${extra[@]}" \
      -x "http://127.0.0.1:${NPROXY[$((w % nodes + 1))]}" \
      -w '%{http_code}\t%{size_download}\t%header{cache-status}\t%header{x-cache-owner}\t%header{x-cache-node}\t%{url}\n' \
      -K "$TMP/$name.w$w.cfg" >"$TMP/$name.w$w.out" 2>"$TMP/$name.w$w.err" &
    pids+=($!)
  done
  for w in "${pids[@]}"; do wait "$w" || fail=$((fail + 1)); done
  t1=$(date +%s.%N)
  BATCH_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  cat "$TMP/$name".w*.out >"$TMP/$name.out"
  ((fail == 0)) || log "  warning: $fail curl process(es) of '$name' exited non-zero: $(cat "$TMP/$name".w*.err | sort | uniq -c | head -n 5 | tr '\n' ';')"
}

# ---- A: cross-node vs local hit throughput --------------------------------------------------------
A_ROWS=()
A_ORIGIN=()
phase_A() {
  local size url owner before after found
  declare -A AURL AOWN
  log "A: cross-node vs local hits (3 nodes, hot copies off); load $(loadavg)"
  start_cluster 3 --Cache:HotCacheSize=0
  for size in $SIZES; do
    found=$(find_url 1 "$size" local); read -r url owner <<<"$found"; AURL[local-$size]=$url; AOWN[local-$size]=$owner
    found=$(find_url 1 "$size" remote); read -r url owner <<<"$found"; AURL[remote-$size]=$url; AOWN[remote-$size]=$owner
    warm 1 "${AURL[local-$size]}" 2 "${AOWN[local-$size]}"
    warm 1 "${AURL[remote-$size]}" 2 "${AOWN[remote-$size]}"
  done
  before=$(origin_requests)
  for size in $SIZES; do
    run_wrk "local-$size" 1 "${AURL[local-$size]}" "${AOWN[local-$size]}"
    run_wrk "remote-$size" 1 "${AURL[remote-$size]}" "${AOWN[remote-$size]}"
  done
  after=$(origin_requests)
  A_ORIGIN+=("hot copies off: $((after - before)) origin requests during the load")
  log "  origin requests during the load: $((after - before))"
  stop_cluster

  log "A: remote hits again with hot copies on (default Cache:HotCacheSize)"
  start_cluster 3
  for size in $SIZES; do
    found=$(find_url 1 "$size" remote); read -r url owner <<<"$found"; AURL[hot-$size]=$url; AOWN[hot-$size]=$owner
    # The first request takes the key's sighting, the second a hot copy, the third is served from it.
    warm 1 "$url" 3 hot-copy
  done
  before=$(origin_requests)
  for size in $SIZES; do
    run_wrk "remote-hot-$size" 1 "${AURL[hot-$size]}" "${AOWN[hot-$size]}(hot)"
  done
  after=$(origin_requests)
  A_ORIGIN+=("hot copies on: $((after - before)) origin requests during the load")
  log "  origin requests during the load: $((after - before))"
  for size in $SIZES; do
    local r h
    r=$(ratio "${RPS[remote-$size]:-0}" "${RPS[local-$size]:-0}")
    h=$(ratio "${RPS[remote-hot-$size]:-0}" "${RPS[local-$size]:-0}")
    SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' A "$size hit: remote/local req/s" \
      "$r (${RPS[remote-$size]:-?}/${RPS[local-$size]:-?})" ">= 0.8" "$(yesno "$r + 0 >= 0.8")")")
    SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' A "$size hit: remote hot-copy/local req/s" \
      "$h (${RPS[remote-hot-$size]:-?})" "(>= 0.8)" "$(yesno "$h + 0 >= 0.8")")")
  done
}

# ---- B: single-flight over 3 nodes ---------------------------------------------------------------
B_LINES=()
phase_B() {
  ((NNODES == 3)) || start_cluster 3
  local url expect_size per workers par before after urls k direct checked=0 bad=0 f
  url="http://$ORIGIN$SF_URL"
  [[ $url == *\?* ]] && url+="&seed=sf-$RUN" || url+="?seed=sf-$RUN"
  expect_size=$(size_bytes "$(sed 's#.*/\(bytes\|slow-body\)/\([^?]*\).*#\2#' <<<"$url")")
  per=$(((SF_REQUESTS + 2) / 3))
  workers=$((3 * ((per + 249) / 250)))     # at most 250 transfers per curl process
  par=$(((SF_REQUESTS + workers - 1) / workers))
  log "B: single-flight: $SF_REQUESTS concurrent GETs of one new URL over 3 nodes ($workers curl processes, --parallel-max $par); load $(loadavg)"
  log "  $url"
  urls=$TMP/sf.urls
  for ((k = 0; k < SF_REQUESTS; k++)); do echo "$url"; done >"$urls"
  before=$(origin_requests)
  # The bodies of each curl process's first 2 transfers are kept, to check their bytes.
  curl_batch sf "$workers" "$par" "$urls" 0 3 2
  after=$(origin_requests)
  direct=$(curl -sS --max-time 60 "$url" | sha256sum | cut -d' ' -f1)
  for f in "$TMP"/sf.body-*; do
    [[ -f $f ]] || continue
    checked=$((checked + 1))
    [[ $(sha256sum <"$f" | cut -d' ' -f1) == "$direct" ]] || bad=$((bad + 1))
  done
  local total ok collapsed hits stored other
  read -r total ok collapsed hits stored other < <(awk -F'\t' -v size="$expect_size" '
    { t++; if ($1 == 200 && $2 == size) ok++
      if ($3 ~ /collapsed/) c++; else if ($3 ~ /; hit/) h++; else if ($3 ~ /stored/) s++; else o++ }
    END { printf "%d %d %d %d %d %d\n", t, ok, c, h, s, o }' "$TMP/sf.out")
  B_LINES+=("URL: $url (expected $expect_size bytes)")
  B_LINES+=("origin requests during the burst: $((after - before))   (target: exactly 1)")
  B_LINES+=("responses: $total, 200 with all $expect_size bytes: $ok")
  B_LINES+=("Cache-Status: collapsed $collapsed, hit $hits, stored (leader) $stored, other $other")
  B_LINES+=("bodies checked against the origin's bytes: $checked, wrong: $bad")
  B_LINES+=("wall time: ${BATCH_SECONDS} s (load $(loadavg))")
  B_LINES+=("status codes: $(cut -f1 "$TMP/sf.out" | sort | uniq -c | awk '{printf "%s x%s  ", $2, $1}')")
  B_LINES+=("served by: $(cut -f5 "$TMP/sf.out" | sort | uniq -c | awk '{printf "%s x%s  ", ($2 == "" ? "-" : $2), $1}')")
  if ((other > 0)); then
    B_LINES+=("other Cache-Status values: $(awk -F'\t' '$3 !~ /collapsed|; hit|stored/ {print $1 " " $3}' "$TMP/sf.out" | sort | uniq -c | head -n 5 | tr '\n' ';')")
  fi
  local line
  for line in "${B_LINES[@]}"; do log "  $line"; done
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' B "origin requests for the URL" "$((after - before))" "= 1" "$(yesno "$((after - before)) == 1")")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' B "200 + full body / requests" "$ok/$total" "= $SF_REQUESTS" "$(yesno "$ok == $SF_REQUESTS && $total == $SF_REQUESTS && $bad == 0")")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' B "collapsed / hit / leader" "$collapsed / $hits / $stored" "(info)" "")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' B "wall time" "${BATCH_SECONDS} s" "(info)" "")")
  stop_cluster
}

# ---- C: hit ratio through scale-out 3 -> 4 -------------------------------------------------------
C_LINES=()
# pass_stats NAME: "total ok hits node4" of the transfers in $TMP/NAME.out.
pass_stats() {
  awk -F'\t' '{ t++; if ($1 == 200 && $2 == 1024) ok++; if ($3 ~ /; hit/) h++; if ($4 == "node4") n4++ }
    END { printf "%d %d %d %d\n", t, ok, h, n4 }' "$TMP/$1.out"
}
# c_pass NAME NODES OFFSET: one pass over the C URLs; prints and records its figures; sets PASS_HITPCT.
PASS_HITPCT=0
c_pass() {
  local name=$1 nodes=$2 offset=$3 before after total ok hits n4 owners
  before=$(origin_requests)
  curl_batch "$name" "$nodes" "$PASS_PARALLEL" "$TMP/keys.urls" "$offset" "$nodes"
  after=$(origin_requests)
  read -r total ok hits n4 < <(pass_stats "$name")
  PASS_HITPCT=$(pct "$hits" "$total")
  owners=$(cut -f4 "$TMP/$name.out" | sort | uniq -c | awk '{printf "%s %s  ", ($2 == "" ? "-" : $2), $1}')
  C_LINES+=("$(printf '%-7s %d nodes: %5d requests, %5d ok, hits %5d (%5s%%), origin requests %5d, %6.2f s; owners: %s' \
    "$name" "$nodes" "$total" "$ok" "$hits" "$PASS_HITPCT" "$((after - before))" "$BATCH_SECONDS" "$owners")")
  log "  ${C_LINES[-1]}"
  local others
  others=$(awk -F'\t' '$1 != 200 || $2 != 1024 {print $1 " " $2 " " $3}' "$TMP/$name.out" | sort | uniq -c | head -n 5 | tr '\n' ';')
  [[ -z $others ]] || { C_LINES+=("        not 200/1024 bytes: $others"); log "  ${C_LINES[-1]}"; }
  PASS_N4=$n4
  PASS_TOTAL=$total
}
phase_C() {
  local i before after after2 t0
  log "C: hit ratio through scale-out 3 -> 4 ($KEYS URLs of 1 KiB, hot copies off); load $(loadavg)"
  start_cluster 3 --Cache:HotCacheSize=0
  for ((i = 1; i <= KEYS; i++)); do echo "http://$ORIGIN/bytes/1k?seed=$RUN-k$i"; done >"$TMP/keys.urls"
  # Each pass shifts the round-robin by one node, so a URL is not always asked through the same node.
  c_pass warm 3 0
  c_pass before 3 1; before=$PASS_HITPCT
  t0=$SECONDS
  start_node 4
  wait_node 4
  wait_views 4
  C_LINES+=("node4 started; every node saw 4 owners after $((SECONDS - t0)) s; then waited JOIN_WAIT=${JOIN_WAIT} s")
  log "  ${C_LINES[-1]}"
  sleep "$JOIN_WAIT"
  c_pass after 4 2; after=$PASS_HITPCT
  c_pass after2 4 3; after2=$PASS_HITPCT
  for ((i = 3; i <= AFTER_PASSES; i++)); do c_pass "after$i" 4 $((i + 1)); done
  local n4=$PASS_N4 rel last=after$((AFTER_PASSES < 2 ? 2 : AFTER_PASSES)) u via direct checked=0 bad=0 extra=()
  # Handoff must move the bytes intact: check some URLs that node4 served in the last pass.
  while read -r u; do
    via=$(curl -sS --max-time 30 -x "http://127.0.0.1:${NPROXY[1]}" "$u" | sha256sum | cut -d' ' -f1)
    direct=$(curl -sS --max-time 30 "$u" | sha256sum | cut -d' ' -f1)
    checked=$((checked + 1))
    [[ $via == "$direct" ]] || { bad=$((bad + 1)); log "  wrong bytes through node1 for $u"; }
  done < <(awk -F'\t' '$4 == "node4" {print $6}' "$TMP/$last.out" | head -n 20)
  C_LINES+=("bodies of URLs node4 took over, checked against the origin's bytes: $checked, wrong: $bad")
  log "  ${C_LINES[-1]}"
  extra+=("$(printf '%-2s %-40s %-28s %-16s %s' C "moved URLs with wrong bytes" "$bad of $checked checked" "0" "$(yesno "$bad == 0 && $checked > 0")")")
  if [[ $CHECK_OWNERS == 1 ]]; then
    # Where should the URLs live? Owners are ranked by node name, so a fresh cluster of node1..node4
    # places each URL on the node the scaled-out cluster should have moved it to (HEAD: no fill).
    start_cluster 4 --Cache:HotCacheSize=0
    curl_batch reference 4 "$PASS_PARALLEL" "$TMP/keys.urls" 0 4 0 --head
    local misplaced
    misplaced=$(awk -F'\t' 'NR == FNR { want[$6] = $4; next } want[$6] != $4 { n++ } END { print n + 0 }' \
      "$TMP/reference.out" "$TMP/$last.out")
    C_LINES+=("reference (fresh 4-node cluster, HEAD): owners $(cut -f4 "$TMP/reference.out" | sort | uniq -c | awk '{printf "%s %s  ", ($2 == "" ? "-" : $2), $1}')")
    C_LINES+=("URLs served in pass '$last' by another owner than the reference's: $misplaced")
    log "  ${C_LINES[-2]}"
    log "  ${C_LINES[-1]}"
    extra+=("$(printf '%-2s %-40s %-28s %-16s %s' C "URLs off their owner (vs fresh cluster)" "$misplaced (in pass $last)" "0" "$(yesno "$misplaced == 0")")")
  fi
  rel=$(ratio "$after" "$before")
  C_LINES+=("hit ratio after / before: $rel (target >= 0.90); node4 owns $n4 of $PASS_TOTAL URLs ($(pct "$n4" "$PASS_TOTAL")%, expect ~25%)")
  log "  ${C_LINES[-1]}"
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' C "hit ratio before (3 nodes)" "$before%" "~100%" "$(yesno "$before + 0 >= 99")")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' C "hit ratio after (4 nodes, 1st pass)" "$after% (x$rel)" ">= 0.9 x before" "$(yesno "$after + 0 >= 0.9 * $before")")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' C "hit ratio after2 (4 nodes, 2nd pass)" "$after2%" ">= 0.9 x before" "$(yesno "$after2 + 0 >= 0.9 * $before")")")
  SUMMARY+=("$(printf '%-2s %-40s %-28s %-16s %s' C "URLs owned by node4 (last pass)" "$n4 ($(pct "$n4" "$PASS_TOTAL")%)" "~25%" "$(yesno "$n4 >= 0.2 * $PASS_TOTAL && $n4 <= 0.3 * $PASS_TOTAL")")")
  SUMMARY+=("${extra[@]}")
  stop_cluster
}

# ---- run -----------------------------------------------------------------------------------------
for phase in $PHASES; do
  case $phase in
    A) phase_A ;;
    B) phase_B ;;
    C) phase_C ;;
    *) die "unknown phase '$phase' (PHASES takes A, B, C)" ;;
  esac
done

# ---- report ------------------------------------------------------------------------------------
{
  echo "CacheCluster on loopback, no database: nodes node1..node4, one TestOrigin; phases: $PHASES"
  echo "date $(date -Is)  host $(hostname)  cores $(nproc)  load-before $LOAD_BEFORE  load-after $(loadavg)"
  echo "built: $BUILT"
  echo "dotnet $(dotnet --list-runtimes 2>/dev/null | awk '/NETCore.App/ {v=$2} END {print v}')  $(wrk -v 2>&1 | sed -n 1p | cut -d" " -f1-2)  curl $curl_ver  NODE_ARGS='$NODE_ARGS'"
  if ((${#A_ROWS[@]} > 0)); then
    echo
    echo "A. hits through node1: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (warm-up ${WARMUP}s), absolute-form GET"
    printf '%-16s %-5s %-8s %11s %9s %9s %9s %8s %7s\n' case size owner req/s p50 p99 MiB/s non-2xx errors
    printf '%s\n' "${A_ROWS[@]}"
    printf '%s\n' "${A_ORIGIN[@]}"
  fi
  if ((${#B_LINES[@]} > 0)); then
    echo
    echo "B. single-flight: $SF_REQUESTS concurrent GETs of one new URL, spread over node1..node3 (curl --parallel)"
    printf '%s\n' "${B_LINES[@]}"
  fi
  if ((${#C_LINES[@]} > 0)); then
    echo
    echo "C. scale-out 3 -> 4: $KEYS URLs of 1 KiB, round-robin over the nodes (curl --parallel, $PASS_PARALLEL per node), hot copies off"
    printf '%s\n' "${C_LINES[@]}"
  fi
  echo
  printf '%-2s %-40s %-28s %-16s %s\n' "" measure measured target met
  printf '%s\n' "${SUMMARY[@]}"
  echo
  # The console logger writes "warn: Category[id]" and the message on the next line.
  warnings() { awk '/^(warn|fail|crit):/ { h = $0; sub(/\[[0-9]+\]$/, "", h); getline m; sub(/^ +/, "", m); print h ": " substr(m, 1, 150) }' "$@" 2>/dev/null; }
  running=(); for f in "${ALL_LOGS[@]}"; do [[ -f $f.running ]] && running+=("$f.running"); done
  n_all=$(warnings "${ALL_LOGS[@]}" | wc -l)
  n_run=0; ((${#running[@]} == 0)) || n_run=$(warnings "${running[@]}" | wc -l)
  echo "node log entries at Warning and above (Information is off): $n_run while running, $((n_all - n_run)) while stopping"
  ((${#running[@]} == 0)) || warnings "${running[@]}" | sed 's/[0-9a-f]\{8\}-[0-9a-f-]\{27\}/<key>/g; s/[0-9][0-9:.]*[0-9]/N/g' \
    | sort | uniq -c | sort -rn | head -n 12
} >"$RESULT.table"
cat "$RESULT.table"
{
  cat "$RESULT.table"
  echo
  echo "---- raw wrk output"
  cat "$RAW"
  echo "---- node logs"
  for f in "${ALL_LOGS[@]}"; do echo "== ${f#"$TMP"/}"; head -n 200 "$f"; done
} >"$RESULT"
rm -f "$RESULT.table"
log "results written to ${RESULT#"$ROOT"/}"
