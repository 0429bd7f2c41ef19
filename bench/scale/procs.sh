# Sourced by bench/scale.sh: the origin (nginx), one node at a time, its /metrics, and the memory and CPU of a
# process tree. Uses the helpers and variables of scale.sh and bench/zipf/common.sh (log, die, free_port,
# wait_port, PIDS, TMP, NODE_DLL, DISK_BUDGET, NODE_ARGS). Every process started gets 9>&- (scale.sh's lock fd).

# start_origin: nginx (1 worker) answering ANY path with the same 1 KiB body, Cache-Control max-age=86400 and
# X-Path: <path> (fill.lua matches responses to URLs by it). Access log line: "<status> <bytes> <uri> <msec>".
start_origin() {
  local o=$TMP/origin user_line="" body
  mkdir -p "$o/temp"
  [[ $EUID == 0 ]] && user_line="user root;"
  body=$(head -c 1024 /dev/zero | tr '\0' 'x')
  free_port ORIGIN_PORT
  cat >"$o/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $o/nginx.pid;
error_log $o/error.log warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  log_format scale '\$status \$body_bytes_sent \$request_uri \$msec';
  access_log $o/access.log scale;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $o/temp/body;
  proxy_temp_path $o/temp/proxy;
  fastcgi_temp_path $o/temp/fastcgi;
  uwsgi_temp_path $o/temp/uwsgi;
  scgi_temp_path $o/temp/scgi;
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    location / {
      add_header Cache-Control "max-age=86400" always;
      add_header X-Path \$uri always;
      return 200 "$body";
    }
  }
}
CONF
  nginx -t -q -c "$o/nginx.conf" -p "$o" 2>"$o/test.log" 9>&- || { cat "$o/test.log" >&2; die "bad origin nginx config"; }
  nginx -c "$o/nginx.conf" -p "$o" >"$o/stdout.log" 2>&1 9>&- &
  ORIGIN_PID=$!
  PIDS+=("$ORIGIN_PID")
  wait_port "$ORIGIN_PORT" "$ORIGIN_PID" origin "$o/error.log"
  ORIGIN=127.0.0.1:$ORIGIN_PORT
  ORIGIN_LOG=$o/access.log
  local size
  size=$(curl -sfS -o /dev/null -w '%{size_download}' --max-time 10 "http://$ORIGIN/s/probe") || die "the origin does not answer"
  [[ $size == 1024 ]] || die "the origin sent $size bytes, not 1024"
  log "origin (nginx) on http://$ORIGIN/ (pid $ORIGIN_PID)"
}
origin_requests() { wc -l <"$ORIGIN_LOG"; }

# start_node DIR: a fresh node with its store in DIR/data (Localhost clustering, the default); sets NODE_PID,
# NPROXY, NMGMT, NODE_LOG. Guard:AllowLoopback is the default (true); named because the origin is on loopback.
start_node() {
  local dir=$1 silo gw
  free_port NPROXY; free_port NMGMT; free_port silo; free_port gw
  mkdir -p "$dir/data"
  NODE_LOG=$dir/node.log
  # shellcheck disable=SC2086 # NODE_ARGS is a list of switches
  (cd "$dir" && exec dotnet "$NODE_DLL" --Proxy:Listen=127.0.0.1:$NPROXY --Management:Listen=127.0.0.1:$NMGMT \
    --Store:Directory="$dir/data" --Store:DiskBudget=$DISK_BUDGET --Guard:AllowLoopback=true \
    --Cluster:SiloPort=$silo --Cluster:GatewayPort=$gw $NODE_ARGS) >"$NODE_LOG" 2>&1 9>&- &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  wait_port "$NPROXY" "$NODE_PID" node "$NODE_LOG"
  for _ in $(seq 300); do # the management port too (/metrics), 30 s
    curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$NMGMT/metrics" && { LAST_SCRAPE=$SECONDS; return 0; }
    kill -0 "$NODE_PID" 2>/dev/null || { tail -n 40 "$NODE_LOG" >&2; die "node exited during start-up"; }
    sleep 0.1
  done
  die "the node's /metrics (127.0.0.1:$NMGMT) did not answer within 30 s"
}
stop_node() { stop_pids "$NODE_PID"; }

# metrics FILE [fresh]: the node's /metrics scraped into FILE. The activation census behind
# cachecluster_grain_activations refreshes in the background on a scrape that finds it 15 s old or more, and
# that scrape still answers the previous figure. "fresh": wait until the census can refresh (17 s after the
# last scrape), scrape to start it, give it 5 s, and scrape again.
LAST_SCRAPE=-100
metrics() {
  if [[ ${2:-} == fresh ]]; then
    ((SECONDS - LAST_SCRAPE >= 17)) || sleep $((17 - (SECONDS - LAST_SCRAPE)))
    curl -sS --max-time 30 "http://127.0.0.1:$NMGMT/metrics" >/dev/null 2>&1 || true
    sleep 5
  fi
  curl -sS --max-time 30 "http://127.0.0.1:$NMGMT/metrics" >"$1" 2>/dev/null || : >"$1"
  LAST_SCRAPE=$SECONDS
}
# metric FILE NAME [LABEL]: the sum of NAME's series (those having LABEL) in a scrape; 0 when absent.
metric() {
  awk -v n="$2" -v l="${3:-}" '{ name = $1; sub(/\{.*/, "", name) } name == n && (l == "" || index($1, l)) { s += $2 }
    END { printf "%.0f", s + 0 }' "$1"
}

# tree_pids PID: the process and its descendants.
tree_pids() {
  local pids=("$1") i=0 c
  while ((i < ${#pids[@]} && i < 1000)); do
    for c in $(cat /proc/"${pids[$i]}"/task/*/children 2>/dev/null); do pids+=("$c"); done
    i=$((i + 1))
  done
  echo "${pids[@]}"
}
tree_rss() { # PID: VmRSS of the tree in KiB
  local p sum=0 r
  for p in $(tree_pids "$1"); do
    r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    sum=$((sum + ${r:-0}))
  done
  echo "$sum"
}
tree_cpu_ticks() { # PID: user+system clock ticks of the tree
  local p sum=0
  for p in $(tree_pids "$1"); do
    [[ -r /proc/$p/stat ]] || continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/"$p"/stat)))
  done
  echo "$sum"
}
# rss_sampler PID OUT SECONDS: the tree's RSS (KiB) once a second into OUT, for SECONDS at most.
rss_sampler() {
  local end=$((SECONDS + $3))
  while ((SECONDS < end)) && kill -0 "$1" 2>/dev/null; do
    tree_rss "$1" >>"$2"
    sleep 1
  done
}
peak_of() { awk '$1 > m { m = $1 } END { print m + 0 }' "$1"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; } # KiB -> MiB
