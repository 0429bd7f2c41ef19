# Sourced by bench/zipf.sh and bench/soak.sh: logging, process and port helpers, cleanup on exit. Uses TMP, PIDS,
# NPID (nodes.sh) and KEEP_TMP of the sourcing script; installs the EXIT/INT/TERM traps.

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# stop_pids PID...: SIGTERM, up to 30 s for a graceful exit, then SIGKILL.
stop_pids() {
  local pid p q keep alive=()
  for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "pid $pid did not stop in 30 s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    keep=1
    for q in "$@"; do [[ $p == "$q" ]] && keep=0; done
    ((keep)) && alive+=("$p")
  done
  PIDS=("${alive[@]}")
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  ((${#NPID[@]} == 0)) || stop_nodes
  ((${#PIDS[@]} == 0)) || stop_pids "${PIDS[@]}"
  if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then log "logs kept in $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Ports below the kernel's ephemeral range: one in it can be taken as an outgoing connection's source port.
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
if ((EPH_LO > 22000)); then PORT_LO=15000; PORT_HI=$((EPH_LO - 1)); else PORT_LO=$((EPH_HI + 1)); PORT_HI=65535; fi
USED_PORTS=" "
free_port() { # VAR: a free loopback port not handed out before in this run
  local p
  for _ in $(seq 200); do
    p=$((PORT_LO + RANDOM % (PORT_HI - PORT_LO + 1)))
    [[ $USED_PORTS == *" $p "* ]] && continue
    port_in_use "$p" && continue
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}
# wait_port PORT PID NAME LOGFILE: until something accepts on 127.0.0.1:PORT (60 s), failing if PID dies.
wait_port() {
  local port=$1 pid=$2 name=$3 logfile=$4
  for _ in $(seq 600); do
    port_in_use "$port" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 40 "$logfile" >&2 || true; die "$name exited before listening on $port"; }
    sleep 0.1
  done
  tail -n 40 "$logfile" >&2 || true
  die "$name did not listen on $port within 60 s"
}

need() {
  command -v "$1" >/dev/null && return 0
  log "installing $2"
  [[ $EUID == 0 ]] || die "$1 is missing; run: sudo apt-get install -y $2"
  [[ -n ${APT_UPDATED:-} ]] || { apt-get update -qq; APT_UPDATED=1; }
  # RUNLEVEL=1 keeps Debian's maintainer scripts from starting the packaged service.
  RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
