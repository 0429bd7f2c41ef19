# Sourced by bench/zipf.sh: the origin (nginx) and the two anchors, Apache Traffic Server and Squid, each
# configured in a directory of its own under $TMP and run in the foreground. Uses the helpers and variables of
# zipf.sh (log, die, free_port, wait_port, PIDS, TMP, CACHE_MIB, OBJ_MAX_MIB).

# start_origin: nginx serving $TMP/objects/z/<n>.bin on 127.0.0.1:$ORIGIN_PORT with Cache-Control max-age=86400,
# ETag and Last-Modified (nginx's own for static files, so Range / If-Range work). The access log line is
# "<status> <body bytes> <uri>": what the proxies asked of the origin.
start_origin() {
  local o=$TMP/origin user_line=""
  mkdir -p "$o/temp"
  [[ $EUID == 0 ]] && user_line="user root;"
  free_port ORIGIN_PORT
  cat >"$o/nginx.conf" <<CONF
$user_line
worker_processes 1;
daemon off;
pid $o/nginx.pid;
error_log $o/error.log warn;
events { worker_connections 16384; }
http {
  default_type application/octet-stream;
  log_format zipf '\$status \$body_bytes_sent \$request_uri';
  access_log $o/access.log zipf;
  sendfile on;
  tcp_nopush off;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $o/temp/body;
  proxy_temp_path $o/temp/proxy;
  fastcgi_temp_path $o/temp/fastcgi;
  uwsgi_temp_path $o/temp/uwsgi;
  scgi_temp_path $o/temp/scgi;
  server {
    listen 127.0.0.1:$ORIGIN_PORT;
    root $TMP/objects;
    location /z/ { add_header Cache-Control "max-age=86400" always; }
    location / { return 404; }
  }
}
CONF
  nginx -t -q -c "$o/nginx.conf" -p "$o" 2>"$o/test.log" || { cat "$o/test.log" >&2; die "bad origin nginx config"; }
  nginx -c "$o/nginx.conf" -p "$o" >"$o/stdout.log" 2>&1 &
  ORIGIN_PID=$!
  PIDS+=("$ORIGIN_PID")
  wait_port "$ORIGIN_PORT" "$ORIGIN_PID" origin "$o/error.log"
  ORIGIN=127.0.0.1:$ORIGIN_PORT
  ORIGIN_LOG=$o/access.log
  log "origin (nginx) on http://$ORIGIN/z/ (pid $ORIGIN_PID)"
}

# start_ats: traffic_server as a forward proxy in a runroot of its own ($TMP/ats/runroot.yaml): Debian's
# records.config with the keys below replaced, a CACHE_MIB storage file and a CACHE_MIB RAM cache.
start_ats() {
  local a=$TMP/ats port
  free_port port
  mkdir -p "$a/etc" "$a/cache" "$a/log" "$a/run" "$a/var/trafficserver"
  cp -r /etc/trafficserver/. "$a/etc/"
  cat >"$a/runroot.yaml" <<CONF
prefix: $a
exec_prefix: /usr
bindir: /usr/bin
sbindir: /usr/sbin
sysconfdir: $a/etc
datadir: $a/var
includedir: /usr/include
libdir: /usr/lib/trafficserver
libexecdir: /usr/lib/trafficserver/modules
localstatedir: $a/var
runtimedir: $a/run
logdir: $a/log
cachedir: $a/cache
CONF
  # Keys set here replace Debian's lines; everything else stays as packaged.
  local keys=(
    "proxy.config.http.server_ports STRING $port:ipv4:ip-in=127.0.0.1"
    "proxy.config.url_remap.remap_required INT 0"
    "proxy.config.reverse_proxy.enabled INT 0"
    "proxy.config.cache.ram_cache.size INT $((CACHE_MIB * 1048576))"
    # 0 (no limit, Debian's value too): any other value turns off ATS's read-while-writer (its collapsed
    # forwarding); the largest object is SIZE_CAP anyway.
    "proxy.config.cache.max_doc_size INT 0"
    "proxy.config.admin.user_id STRING #-1"
    "proxy.config.log.logging_enabled INT 0"
    "proxy.config.body_factory.template_sets_dir STRING $a/etc/body_factory"
    "proxy.config.dns.resolv_conf STRING $a/etc/resolv.conf"
    "proxy.config.hostdb.storage_path STRING $a/var/trafficserver"
  )
  local k pattern=""
  for k in "${keys[@]}"; do pattern+="${pattern:+|}CONFIG ${k%% *} "; done
  { grep -Ev "^($pattern)" /etc/trafficserver/records.config
    for k in "${keys[@]}"; do echo "CONFIG $k"; done; } >"$a/etc/records.config"
  # Nothing may reach a name server outside this machine; the origin is an IP literal anyway.
  echo "nameserver 127.0.0.1" >"$a/etc/resolv.conf"
  echo "$a/cache ${CACHE_MIB}M" >"$a/etc/storage.config"  # a directory: ATS creates its cache.db there
  : >"$a/etc/remap.config"
  cat >"$a/etc/ip_allow.yaml" <<CONF
ip_allow:
  - apply: in
    ip_addrs: [127.0.0.1, "::1"]
    action: allow
  - apply: in
    ip_addrs: 0/0
    action: deny
  - apply: out
    ip_addrs: 127.0.0.1
    action: allow
CONF
  (cd "$a" && exec traffic_server --run-root="$a/runroot.yaml" >"$a/stdout.log" 2>&1) &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" ats "$a/log/diags.log"
  T_ROOTS=("$pid"); T_PORTS=("$port"); T_NAMES=(ats); T_LOGS=("$a/log/diags.log")
  log "ats on 127.0.0.1:$port (pid $pid, $(traffic_server --version 2>&1 | sed -n 's/^Traffic Server \([^ ]*\).*/\1/p' | head -n1))"
}

# start_squid: squid -N (one process, no kids) with a CACHE_MIB aufs cache_dir and a CACHE_MIB cache_mem.
start_squid() {
  local s=$TMP/squid port user_line=""
  free_port port
  mkdir -p "$s/cache"
  if [[ $EUID == 0 ]]; then
    user_line="cache_effective_user proxy"
    chmod 755 "$TMP"
  fi
  cat >"$s/squid.conf" <<CONF
http_port 127.0.0.1:$port
$user_line
pid_filename $s/squid.pid
cache_dir aufs $s/cache $CACHE_MIB 16 256
cache_mem $CACHE_MIB MB
maximum_object_size $OBJ_MAX_MIB MB
maximum_object_size_in_memory $OBJ_MAX_MIB MB
access_log none
cache_store_log none
cache_log $s/cache.log
coredump_dir $s
logfile_rotate 0
netdb_filename none
pinger_enable off
icp_port 0
htcp_port 0
client_db off
dns_nameservers 127.0.0.1
visible_hostname zipf-bench
shutdown_lifetime 1 seconds
http_access allow localhost
http_access deny all
CONF
  [[ $EUID == 0 ]] && chown -R proxy:proxy "$s"
  squid -k parse -f "$s/squid.conf" >"$s/parse.log" 2>&1 || { cat "$s/parse.log" >&2; die "bad squid.conf"; }
  (cd "$s" && squid -N -z -f "$s/squid.conf" >"$s/init.log" 2>&1) || { cat "$s/init.log" "$s/cache.log" >&2; die "squid -z failed"; }
  (cd "$s" && exec squid -N -f "$s/squid.conf" >"$s/stdout.log" 2>&1) &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" squid "$s/cache.log"
  T_ROOTS=("$pid"); T_PORTS=("$port"); T_NAMES=(squid); T_LOGS=("$s/cache.log")
  log "squid on 127.0.0.1:$port (pid $pid, $(squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p' | head -n1))"
}
