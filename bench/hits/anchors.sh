# Sourced by bench/hits.sh: the node, nginx (proxy_cache) and Varnish, each on a free loopback port in front of
# the test origin ($ORIGIN). ATS and Squid come from bench/zipf/anchors.sh. Each sets PORT[name] and
# ROOTPID[name] (the process whose tree's CPU is counted).

start_hits_node() {
  local port silo gateway mgmt pid
  free_port port; free_port silo; free_port gateway; free_port mgmt
  [[ -f $NODE_DLL ]] || die "missing $NODE_DLL (build first)"
  mkdir -p "$TMP/node-data"
  # shellcheck disable=SC2086 # NODE_ARGS is a list of switches
  dotnet "$NODE_DLL" --Proxy:Listen=127.0.0.1:$port --Management:Listen=127.0.0.1:$mgmt --Store:Directory="$TMP/node-data" \
    --Store:MemoryBudget=$CACHE_SIZE --Store:DiskBudget=2GiB \
    --Cluster:SiloPort=$silo --Cluster:GatewayPort=$gateway $NODE_ARGS >"$TMP/node.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" node "$TMP/node.log"
  PORT[node]=$port; ROOTPID[node]=$pid
  log "node on 127.0.0.1:$port (pid $pid)"
}

start_hits_nginx() {
  local ng=$TMP/nginx port pid user_line=""
  free_port port
  mkdir -p "$ng/cache" "$ng/temp"
  [[ $EUID == 0 ]] && user_line="user root;"
  cat >"$ng/nginx.conf" <<CONF
$user_line
worker_processes auto;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path $ng/temp/body;
  proxy_temp_path $ng/temp/proxy;
  fastcgi_temp_path $ng/temp/fastcgi;
  uwsgi_temp_path $ng/temp/uwsgi;
  scgi_temp_path $ng/temp/scgi;
  proxy_cache_path $ng/cache levels=1:2 keys_zone=bench:32m max_size=${CACHE_MIB}m inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:$port;
    location / {
      # Absolute-form (forward proxy) and origin-form requests both end up here.
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
CONF
  nginx -t -q -c "$ng/nginx.conf" -p "$ng" 2>"$ng/test.log" || { cat "$ng/test.log" >&2; die "bad nginx config"; }
  nginx -c "$ng/nginx.conf" -p "$ng" >"$ng/stdout.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" nginx "$ng/error.log"
  PORT[nginx]=$port; ROOTPID[nginx]=$pid
  log "nginx on 127.0.0.1:$port (pid $pid, $(nginx -v 2>&1 | sed 's/.*: //'))"
}

# Varnish is no forward proxy: the VCL turns an absolute-form target into Host + path, and every request goes
# to the one backend (the origin). A malloc storage of CACHE_SIZE; X-Cache says HIT or MISS.
start_hits_varnish() {
  local v=$TMP/varnish port pid
  free_port port
  mkdir -p "$v"
  chmod 755 "$TMP" "$v"
  cat >"$v/bench.vcl" <<CONF
vcl 4.1;
backend origin { .host = "127.0.0.1"; .port = "$ORIGIN_PORT"; }
sub vcl_recv {
  if (req.url ~ "^http://") {
    set req.http.host = regsub(req.url, "^http://([^/]+).*$", "\1");
    set req.url = regsub(req.url, "^http://[^/]+", "");
  }
}
sub vcl_deliver {
  if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
CONF
  varnishd -F -n "$v/work" -a "127.0.0.1:$port" -f "$v/bench.vcl" -s "malloc,${CACHE_MIB}m" \
    -T none -p vsl_space=1M >"$v/stdout.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" varnish "$v/stdout.log"
  PORT[varnish]=$port; ROOTPID[varnish]=$pid
  log "varnish on 127.0.0.1:$port (pid $pid, $(varnishd -V 2>&1 | sed -n 's/.*(\(varnish-[^ ]*\).*/\1/p' | head -n1))"
}
