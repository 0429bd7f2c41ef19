# Sourced by bench/zipf.sh: CacheCluster nodes, one (NODES=1) or a Localhost cluster of NODES on loopback, each
# with --Store:DiskBudget and --Store:MemoryBudget = CACHE_MIB MiB and otherwise default settings. Uses the
# helpers and variables of zipf.sh (log, die, free_port, port_in_use, PIDS, TMP, NODE_DLL, NODE_ARGS, ...).

NPROXY=(); NSILO=(); NGW=(); NMGMT=(); NLOG=()

# start_node I: node I (1-based); node 1 hosts the development membership, the others join it.
start_node() {
  local i=$1 dir=$TMP/node$1 cluster_args=()
  free_port "NPROXY[$i]"; free_port "NSILO[$i]"; free_port "NGW[$i]"; free_port "NMGMT[$i]"
  mkdir -p "$dir/data"
  NLOG[i]=$dir/node.log
  if ((NODES > 1)); then
    cluster_args=(--Cluster:PrimarySiloPort="${NSILO[1]}" --Cluster:ClusterId=zipf --Cluster:ServiceId=zipf
      --Node:Name="node$i" --Proxy:DebugHeaders=true)
  fi
  # Guard:AllowLoopback is the default (true); named here because the origin is on loopback.
  # shellcheck disable=SC2086 # NODE_ARGS is a list of switches
  (cd "$dir" && exec dotnet "$NODE_DLL" --Proxy:Listen=127.0.0.1:${NPROXY[i]} --Management:Listen=127.0.0.1:${NMGMT[i]} \
    --Store:Directory="$dir/data" --Store:DiskBudget=${CACHE_MIB}MiB --Store:MemoryBudget=${CACHE_MIB}MiB \
    --Guard:AllowLoopback=true --Cluster:SiloPort=${NSILO[i]} --Cluster:GatewayPort=${NGW[i]} \
    "${cluster_args[@]}" $NODE_ARGS >"${NLOG[i]}" 2>&1) &
  NPID[i]=$!
  PIDS+=("${NPID[i]}")
}

# wait_node I: until node I's proxy accepts connections (90 s), failing if it exits.
wait_node() {
  local i=$1
  for _ in $(seq 900); do
    port_in_use "${NPROXY[i]}" && return 0
    kill -0 "${NPID[i]}" 2>/dev/null || { tail -n 40 "${NLOG[i]}" >&2; die "node$i exited before listening on ${NPROXY[i]}"; }
    sleep 0.1
  done
  tail -n 40 "${NLOG[i]}" >&2
  die "node$i did not listen on ${NPROXY[i]} within 90 s"
}

# wait_views N: until each of nodes 1..N names all N nodes as X-Cache-Owner of some probe URL (HEAD, which
# never fills the cache): every membership view has every node. 120 s at most.
wait_views() {
  local n=$1 i k owner seen all probe=0 deadline=$((SECONDS + 120))
  for ((i = 1; i <= n; i++)); do
    seen=" "
    while :; do
      ((SECONDS < deadline)) || die "node$i did not see all $n nodes within 120 s (owners seen:$seen)"
      probe=$((probe + 1))
      owner=$(curl -sS -I -o /dev/null --max-time 20 -w '%header{x-cache-owner}' -x "http://127.0.0.1:${NPROXY[i]}" \
        "http://$ORIGIN/probe/$RANDOM-$probe" 2>/dev/null || true)
      [[ -n $owner && $seen != *" $owner "* ]] && seen+="$owner "
      all=1
      for ((k = 1; k <= n; k++)); do [[ $seen == *" node$k "* ]] || all=0; done
      ((all)) && break
      ((probe % 40 == 0)) && sleep 0.5
    done
  done
}

# start_nodes: NODES nodes; sets the target's T_ROOTS / T_PORTS / T_NAMES / T_LOGS.
start_nodes() {
  local i t0=$SECONDS
  start_node 1
  wait_node 1
  for ((i = 2; i <= NODES; i++)); do start_node "$i"; done
  for ((i = 2; i <= NODES; i++)); do wait_node "$i"; done
  ((NODES > 1)) && wait_views "$NODES"
  T_ROOTS=(); T_PORTS=(); T_NAMES=(); T_LOGS=()
  for ((i = 1; i <= NODES; i++)); do
    T_ROOTS+=("${NPID[i]}"); T_PORTS+=("${NPROXY[i]}"); T_LOGS+=("${NLOG[i]}")
    if ((NODES > 1)); then T_NAMES+=("node$i"); else T_NAMES+=(node); fi
  done
  log "$NODES node(s) up in $((SECONDS - t0)) s: $(for ((i = 1; i <= NODES; i++)); do printf 'proxy 127.0.0.1:%s mgmt %s (pid %s) ' "${NPROXY[i]}" "${NMGMT[i]}" "${NPID[i]}"; done)"
}

# join_node: a node NODES+1 joins the running cluster (no client load goes to it: it only takes ownership).
join_node() {
  local j=$((NODES + 1))
  start_node "$j"
  echo "${NPID[j]}" >>"$TMP/rss-roots"
  wait_node "$j"
  T_LOGS+=("${NLOG[j]}")
  log "node$j joined (proxy 127.0.0.1:${NPROXY[j]}, pid ${NPID[j]})"
}

# stop_nodes: one at a time, node1 (the membership host) last; nodes stopping together fail to reach each other.
stop_nodes() {
  local i
  for ((i = ${#NPID[@]}; i >= 1; i--)); do stop_pids "${NPID[i]}"; done
  NPID=()
}

# metrics I: the node's /metrics lines of interest (store, requests, origin, hot copies).
metrics() {
  curl -sS --max-time 10 "http://127.0.0.1:${NMGMT[$1]}/metrics" 2>/dev/null \
    | grep -E '^cachecluster_(store_|requests_total|request_duration_seconds_bucket|origin_fetches_total|origin_bytes_total|client_bytes_total|hot_)' || true
}
