#!/usr/bin/env bash
# Cache-hit throughput of one CacheCluster node (and optionally nginx) measured with wrk.
# Everything binds to 127.0.0.1 and all load goes to loopback. See bench/README.md.
#
#   bench/hits.sh                      # node only
#   COMPARE=nginx bench/hits.sh        # node and nginx side by side
#   NODE=0 COMPARE=nginx bench/hits.sh # nginx only
#
# Environment: DURATION (s, 15), WARMUP (s, 3), CONNECTIONS (32), THREADS (1), SIZES ("1k 64k 1m"),
# COMPARE (nginx), NODE (1), NGINX_WORKERS (auto), SKIP_BUILD (0), KEEP_TMP (0), NODE_ARGS (extra node switches).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
SIZES=${SIZES:-"1k 64k 1m"}
COMPARE=${COMPARE:-}
NODE=${NODE:-1}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_TMP=${KEEP_TMP:-0}
NODE_ARGS=${NODE_ARGS:-}

ORIGIN_DLL=$ROOT/tests/TestOrigin/bin/Release/net10.0/CacheCluster.TestOrigin.dll
NODE_DLL=$ROOT/src/Node/bin/Release/net10.0/CacheCluster.Node.dll
TMP=$(mktemp -d /tmp/bench-hits.XXXXXX)
PIDS=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

USED_PORTS=" "
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    [[ $USED_PORTS == *" $p "* ]] && continue
    port_in_use "$p" && continue
    USED_PORTS+="$p "
    echo "$p"
    return 0
  done
  die "no free port found"
}

# wait_port PORT PID NAME LOGFILE: until something accepts on 127.0.0.1:PORT (60 s), failing if PID dies.
wait_port() {
  local port=$1 pid=$2 name=$3 logfile=$4
  for _ in $(seq 600); do
    port_in_use "$port" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$logfile" >&2 || true
      die "$name exited before listening on $port"
    fi
    sleep 0.1
  done
  tail -n 40 "$logfile" >&2 || true
  die "$name did not listen on $port within 60 s"
}

need() {
  command -v "$1" >/dev/null && return 0
  log "installing $2"
  [[ $EUID == 0 ]] || die "$1 is missing; run: sudo apt-get install -y $2"
  apt-get update -qq
  # RUNLEVEL=1 keeps Debian's maintainer scripts from starting the packaged service.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

need wrk wrk
need curl curl
[[ $COMPARE == nginx ]] && need nginx nginx
[[ -z $COMPARE || $COMPARE == nginx ]] || die "COMPARE must be empty or 'nginx'"

# Other work on the machine skews every figure: say so.
read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" 'BEGIN { exit !(l > 0.5) }'; then
  log "warning: load average is $LOAD1 before the run; results will be low (check top for other jobs)"
fi

# ---- build ---------------------------------------------------------------------------------------
if [[ $SKIP_BUILD != 1 ]]; then
  log "building Release"
  dotnet build -c Release --nologo -v quiet "$ROOT/tests/TestOrigin/TestOrigin.csproj" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "TestOrigin build failed"; }
  if [[ $NODE == 1 ]]; then
    dotnet build -c Release --nologo -v quiet "$ROOT/src/Node/Node.csproj" >>"$TMP/build.log" 2>&1 \
      || { cat "$TMP/build.log" >&2; die "Node build failed"; }
  fi
fi
[[ -f $ORIGIN_DLL ]] || die "missing $ORIGIN_DLL (build first)"
[[ $NODE != 1 || -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"

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
origin_requests() { curl -s "http://$ORIGIN/_origin/stats" | sed -n 's/.*"totalRequests":\([0-9]*\).*/\1/p'; }

# ---- proxies -------------------------------------------------------------------------------------
TARGETS=()   # "name:port"

if [[ $NODE == 1 ]]; then
  NODE_PORT=$(free_port); SILO_PORT=$(free_port); GATEWAY_PORT=$(free_port); MGMT_PORT=$(free_port)
  mkdir -p "$TMP/data"
  # shellcheck disable=SC2086 # NODE_ARGS is a list of switches
  dotnet "$NODE_DLL" --Proxy:Listen=127.0.0.1:$NODE_PORT --Management:Listen=127.0.0.1:$MGMT_PORT --Store:Directory="$TMP/data" \
    --Store:MemoryBudget=256MiB --Store:DiskBudget=2GiB \
    --Cluster:SiloPort=$SILO_PORT --Cluster:GatewayPort=$GATEWAY_PORT $NODE_ARGS >"$TMP/node.log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_port "$NODE_PORT" "$NODE_PID" node "$TMP/node.log"
  log "node on 127.0.0.1:$NODE_PORT (pid $NODE_PID)"
  TARGETS+=("node:$NODE_PORT")
fi

if [[ $COMPARE == nginx ]]; then
  NGINX_PORT=$(free_port)
  NG=$TMP/nginx
  mkdir -p "$NG/cache" "$NG/temp"
  user_line=""
  [[ $EUID == 0 ]] && user_line="user root;"
  cat >"$NG/nginx.conf" <<EOF
$user_line
worker_processes $NGINX_WORKERS;
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile ${NGINX_SENDFILE:-on};
  tcp_nopush ${NGINX_NOPUSH:-off};
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $NG/temp/body;
  proxy_temp_path $NG/temp/proxy;
  fastcgi_temp_path $NG/temp/fastcgi;
  uwsgi_temp_path $NG/temp/uwsgi;
  scgi_temp_path $NG/temp/scgi;
  proxy_cache_path $NG/cache levels=1:2 keys_zone=bench:32m max_size=2g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      # Absolute-form (forward proxy) and origin-form (reverse proxy) requests both end up here.
      proxy_pass http://$ORIGIN;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache bench;
      proxy_cache_key \$scheme\$host\$request_uri;
      proxy_cache_valid 200 1h;
      proxy_cache_lock on;
      add_header Cache-Status "nginx; \$upstream_cache_status" always;
    }
  }
}
EOF
  nginx -t -q -c "$NG/nginx.conf" -p "$NG" 2>"$NG/test.log" || { cat "$NG/test.log" >&2; die "bad nginx config"; }
  nginx -c "$NG/nginx.conf" -p "$NG" >"$NG/stdout.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  wait_port "$NGINX_PORT" "$NGINX_PID" nginx "$NG/error.log"
  log "nginx on 127.0.0.1:$NGINX_PORT (pid $NGINX_PID, workers $NGINX_WORKERS)"
  TARGETS+=("nginx:$NGINX_PORT")
fi
((${#TARGETS[@]} > 0)) || die "nothing to measure (NODE=0 and no COMPARE)"

# ---- warm: fetch through the proxy until the response says hit ------------------------------------
warm() {
  local name=$1 port=$2 url=$3 status=""
  for attempt in 1 2 3 4 5; do
    status=$(curl -s -o /dev/null -D - --max-time 30 -x "http://127.0.0.1:$port" "$url" \
      | tr -d '\r' | sed -n 's/^[Cc]ache-[Ss]tatus: *//p')
    if ((attempt > 1)) && grep -qi 'hit' <<<"$status"; then return 0; fi
    sleep 0.2
  done
  die "$name: $url is not a cache hit after 5 requests (last Cache-Status: '${status:-none}')"
}

# ---- wrk ---------------------------------------------------------------------------------------
mib_per_s() { # wrk prints binary units: 12.34KB / 56.78MB / 1.23GB
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "B") n /= 1048576; else if (u == "KB") n /= 1024; else if (u == "GB") n *= 1024; else if (u == "TB") n *= 1048576
    printf "%.1f", n }'
}

STAMP=$(date +%Y%m%d-%H%M%S)
mkdir -p "$ROOT/bench/results"
RESULT=$ROOT/bench/results/hits-$STAMP.txt
RAW=$TMP/wrk-raw.txt
: >"$RAW"
ROWS=()

run_wrk() {
  local name=$1 port=$2 size=$3 url lua out rps p50 p99 tps non2xx errs
  url="http://$ORIGIN/bytes/$size"
  lua=$TMP/absolute-$size.lua
  # wrk sends absolute-form requests to the proxy: the target is the full origin URL.
  printf 'wrk.method = "GET"\nwrk.path = "%s"\nwrk.headers["Host"] = "%s"\n' "$url" "$ORIGIN" >"$lua"
  if ((WARMUP > 0)); then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$lua" "http://127.0.0.1:$port" >/dev/null
  fi
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$lua" "http://127.0.0.1:$port")
  printf '==== %s %s: wrk -t%s -c%s -d%ss --latency -s (wrk.path=%s) http://127.0.0.1:%s\n%s\n\n' \
    "$name" "$size" "$THREADS" "$CONNECTIONS" "$DURATION" "$url" "$port" "$out" >>"$RAW"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  tps=$(awk '/^Transfer\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' <<<"$out")
  errs=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  ROWS+=("$(printf '%-6s %-5s %11s %9s %9s %9s %8s %7s' "$name" "$size" "${rps:-?}" "${p50:-?}" "${p99:-?}" \
    "$(mib_per_s "${tps:-0B}")" "${non2xx:-0}" "${errs:-0}")")
  log "$(printf '%s %s: %s req/s, p50 %s, p99 %s, %s' "$name" "$size" "${rps:-?}" "${p50:-?}" "${p99:-?}" "${tps:-?}")"
}

for target in "${TARGETS[@]}"; do
  name=${target%%:*}; port=${target##*:}
  before=$(origin_requests)
  for size in $SIZES; do warm "$name" "$port" "http://$ORIGIN/bytes/$size"; done
  warmed=$(origin_requests)
  log "$name: warmed $SIZES ($((warmed - before)) origin requests)"
  for size in $SIZES; do run_wrk "$name" "$port" "$size"; done
  after=$(origin_requests)
  log "$name: origin requests during the load: $((after - warmed))"
  ROWS+=("$(printf '%-6s (origin requests during load: %d)' "$name" "$((after - warmed))")")
done

# ---- report ------------------------------------------------------------------------------------
{
  echo "cache hits: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency (warm-up ${WARMUP}s), absolute-form GET through the proxy"
  echo "date $(date -Is)  host $(hostname)  cores $(nproc)  load-before $LOAD1  commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')"
  echo "dotnet $(dotnet --list-runtimes 2>/dev/null | awk '/NETCore.App/ {v=$2} END {print v}')  $(wrk -v 2>&1 | sed -n 1p | cut -d" " -f1-2)$([[ $COMPARE == nginx ]] && echo "  $(nginx -v 2>&1 | sed 's/.*: //') workers=$NGINX_WORKERS")"
  echo
  printf '%-6s %-5s %11s %9s %9s %9s %8s %7s\n' proxy size req/s p50 p99 MiB/s non-2xx errors
  printf '%s\n' "${ROWS[@]}"
} >"$RESULT.table"
cat "$RESULT.table"
{ cat "$RESULT.table"; echo; echo "---- raw wrk output"; cat "$RAW"; } >"$RESULT"
rm -f "$RESULT.table"
log "results written to ${RESULT#"$ROOT"/}"
