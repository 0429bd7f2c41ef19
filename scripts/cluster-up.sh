#!/usr/bin/env bash
# Starts a local CacheCluster: a throw-away PostgreSQL (membership table) and N nodes in AdoNet mode, all on
# 127.0.0.1. Stop it with scripts/cluster-down.sh.
#
#   scripts/cluster-up.sh [N]          N nodes (default 3)
#
# Environment (defaults): PG_PORT (55432), PROXY_PORT (3128; node i gets PROXY_PORT+i-1), MGMT_PORT (9128; likewise), SILO_PORT (11111),
# GATEWAY_PORT (30000), CLUSTER_ID (local), CONFIGURATION (Release), CLUSTER_DIR (./.cluster).
# Everything the cluster writes goes under .cluster/: pg/ (database, postgres.log), nodeI/ (data/, node.log, pid).
# Nodes use fast failure detection (ProbeTimeout 1s, MissedProbesLimit 2, TableRefreshTimeout 2s): a killed
# node is declared dead in about a second or two. Fine on loopback; keep Orleans' defaults on real networks.
set -euo pipefail
# shellcheck source=scripts/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

N=${1:-3}
PROXY_PORT=${PROXY_PORT:-3128}
MGMT_PORT=${MGMT_PORT:-9128}
SILO_PORT=${SILO_PORT:-11111}
GATEWAY_PORT=${GATEWAY_PORT:-30000}
CLUSTER_ID=${CLUSTER_ID:-local}
CONFIGURATION=${CONFIGURATION:-Release}
if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 1 ] || [ "$N" -gt 20 ]; then
    echo "usage: $0 [N]   (N = number of nodes, 1-20, default 3)" >&2; exit 2
fi

mkdir -p "$CLUSTER_DIR"
for i in $(seq 1 "$N"); do
    if is_node_pid "$(cat "$CLUSTER_DIR/node$i/pid" 2>/dev/null || true)"; then
        echo "node$i is already running (pid $(cat "$CLUSTER_DIR/node$i/pid")); run scripts/cluster-down.sh first" >&2; exit 1
    fi
done

# ---- PostgreSQL -------------------------------------------------------------------------------------------
if ! PG_BIN=$(find_pg_bin); then
    if is_root && command -v apt-get >/dev/null; then
        echo "== installing PostgreSQL (apt-get install postgresql)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
        PG_BIN=$(find_pg_bin) || { echo "PostgreSQL installed but no server under /usr/lib/postgresql/*/bin" >&2; exit 1; }
    else
        echo "PostgreSQL server not found under /usr/lib/postgresql/*/bin: install it (sudo apt-get install postgresql)" >&2; exit 1
    fi
fi

PG_DIR=$CLUSTER_DIR/pg
mkdir -p "$PG_DIR"
if is_root; then
    chown postgres:postgres "$PG_DIR"
    if ! runuser -u postgres -- test -w "$PG_DIR"; then
        # The postgres user cannot reach .cluster (e.g. the repository is under /root): use /tmp instead.
        PG_DIR=/tmp/cachecluster-pg-$PG_PORT
        mkdir -p "$PG_DIR" && chown postgres:postgres "$PG_DIR"
    fi
fi
echo "$PG_DIR" >"$CLUSTER_DIR/pgdir"
[ "$PG_DIR" = "$CLUSTER_DIR/pg" ] || ln -sfn "$PG_DIR" "$CLUSTER_DIR/pg-data-link"

if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    echo "== initdb $PG_DIR/data ($("$PG_BIN/postgres" --version))"
    (cd / && as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$CLUSTER_DIR/initdb.log" 2>&1) \
        || { cat "$CLUSTER_DIR/initdb.log" >&2; exit 1; }
fi
if (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1); then
    echo "== PostgreSQL already running ($PG_DIR/data)"
else
    echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT"
    (cd / && as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR" start >/dev/null) \
        || { echo "PostgreSQL did not start; its log ($PG_DIR/postgres.log):" >&2; tail -n 20 "$PG_DIR/postgres.log" >&2; exit 1; }
fi
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -q)
if [ "$("${PSQL[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$PG_DB"
fi
CS="Host=127.0.0.1;Port=$PG_PORT;Database=$PG_DB;Username=postgres"

# ---- the node ------------------------------------------------------------------------------------------------
echo "== building src/Node ($CONFIGURATION)"
dotnet build "$ROOT/src/Node/Node.csproj" -c "$CONFIGURATION" -nologo -v q -clp:ErrorsOnly >"$CLUSTER_DIR/build.log" 2>&1 \
    || { cat "$CLUSTER_DIR/build.log" >&2; exit 1; }
DLL=$ROOT/src/Node/bin/$CONFIGURATION/net10.0/CacheCluster.Node.dll

echo "== creating the cluster schema (--init-schema)"
dotnet "$DLL" --Cluster:Mode=AdoNet "--Cluster:ConnectionString=$CS" --init-schema --Logging:LogLevel:Default=Warning

for i in $(seq 1 "$N"); do
    dir=$CLUSTER_DIR/node$i
    mkdir -p "$dir/data"
    proxy=$((PROXY_PORT + i - 1)) silo=$((SILO_PORT + i - 1)) gateway=$((GATEWAY_PORT + i - 1))
    (
        cd "$dir"
        exec setsid nohup dotnet "$DLL" \
            "--Node:Name=node$i" \
            "--Proxy:Listen=127.0.0.1:$proxy" \
            "--Management:Listen=127.0.0.1:$((MGMT_PORT + i - 1))" \
            "--Store:Directory=$dir/data" \
            --Cluster:Mode=AdoNet "--Cluster:ConnectionString=$CS" "--Cluster:ClusterId=$CLUSTER_ID" \
            "--Cluster:SiloPort=$silo" "--Cluster:GatewayPort=$gateway" --Cluster:CreateSchema=false \
            --Cluster:ProbeTimeout=1s --Cluster:MissedProbesLimit=2 --Cluster:TableRefreshTimeout=2s \
            </dev/null >"$dir/node.log" 2>&1
    ) &
    echo $! >"$dir/pid"
    echo "== node$i: pid $(cat "$dir/pid"), proxy 127.0.0.1:$proxy, management 127.0.0.1:$((MGMT_PORT + i - 1)), silo $silo, gateway $gateway, log $dir/node.log"
done

# Wait until every proxy port accepts connections (the silo has joined by then).
for i in $(seq 1 "$N"); do
    proxy=$((PROXY_PORT + i - 1))
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$proxy") 2>/dev/null; then break; fi
        if ! is_node_pid "$(cat "$CLUSTER_DIR/node$i/pid")"; then
            echo "node$i exited; the end of $CLUSTER_DIR/node$i/node.log:" >&2; tail -n 20 "$CLUSTER_DIR/node$i/node.log" >&2; exit 1
        fi
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$proxy") 2>/dev/null || { echo "node$i: proxy port $proxy not open after 60 s; see $CLUSTER_DIR/node$i/node.log" >&2; exit 1; }
done

MEMBERS_SQL="SELECT SiloName AS silo, Address || ':' || Port AS endpoint, CASE Status WHEN 3 THEN 'Active' WHEN 6 THEN 'Dead' WHEN 2 THEN 'Joining' WHEN 4 THEN 'ShuttingDown' WHEN 5 THEN 'Stopping' ELSE Status::text END AS status, IAmAliveTime AS last_heartbeat FROM OrleansMembershipTable WHERE DeploymentId = '$CLUSTER_ID' ORDER BY StartTime DESC, Port"
echo
"${PSQL[@]}" -d "$PG_DB" -c "$MEMBERS_SQL"
cat <<USAGE
Cluster '$CLUSTER_ID' is up: $N node(s), PostgreSQL 127.0.0.1:$PG_PORT database $PG_DB.

  Proxy through any node (an entry stored via one node is a hit via the others):
    curl -s -D - -o /dev/null -x http://127.0.0.1:$PROXY_PORT  http://127.0.0.1:8080/bytes/1k
    curl -s -D - -o /dev/null -x http://127.0.0.1:$((PROXY_PORT + 1)) http://127.0.0.1:8080/bytes/1k
  (test origin: dotnet run -c Release --project tests/TestOrigin -- --port 8080)

  Membership:  $PG_BIN/psql -h 127.0.0.1 -p $PG_PORT -U postgres -d $PG_DB -c "$MEMBERS_SQL"
  Logs:        $CLUSTER_DIR/node<i>/node.log, $PG_DIR/postgres.log
  Kill a node: kill -9 \$(cat $CLUSTER_DIR/node$N/pid)   (the others mark it Dead within a few seconds)
  Stop all:    scripts/cluster-down.sh   (--purge also deletes .cluster/ and the database)
USAGE
