# Sourced by bench/scale.sh: one N (fill, hits, idle) on a fresh node, and the report. Uses the helpers of
# procs.sh and bench/zipf/common.sh and the variables of scale.sh.

RESULT_DIR=$ROOT/bench/results
mkdir -p "$RESULT_DIR"
RESULT=$RESULT_DIR/scale-$STAMP.txt
RAW=$TMP/raw.txt
: >"$RAW"
ROWS=()      # the table's rows
DETAILS=()   # lines printed under the table
RATE_N=""; RATE=0   # the last N (>= 10000) filled, and its fill rate
declare -A END_RSS HEAP  # N -> end RSS (KiB) and GC heap after the last collection (bytes), for the per-entry growth
FMT='%8s %7s %9s %9s %8s %8s %6s %7s %8s %8s %9s %9s %9s %9s\n'

to_ms() { # wrk latency (512.00us / 1.23ms / 2.01s / 1.00m) in ms
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.2f", n }'
}
wrk_errors() { # FILE: socket errors (connect+read+write+timeout) + non-2xx responses
  awk '/Socket errors/ { gsub(",", ""); e += $4 + $6 + $8 + $10 } /Non-2xx or 3xx responses/ { e += $NF } END { printf "%.0f", e + 0 }' "$1"
}
raw() { printf '==== N=%s %s\n%s\n\n' "$1" "$2" "$(cat "$3")" >>"$RAW"; }
# outcomes BEFORE AFTER: the node's request outcomes between two scrapes ("hit 123 miss 45").
outcomes() {
  awk -F'[{}" ]+' '/^cachecluster_requests_total\{/ { v[$3] += (FILENAME == ARGV[1] ? -$NF : $NF) }
    END { for (k in v) if (v[k] != 0) printf "%s %.0f ", k, v[k] }' "$1" "$2"
}

# gc_during BEFORE AFTER: the GC's work between two scrapes ("1.23 s paused, gen0/1/2 12/3/0").
gc_during() {
  local d=() g
  for g in gen0 gen1 gen2; do
    d+=($(($(metric "$2" system_runtime_dotnet_gc_collections "\"$g\"") - $(metric "$1" system_runtime_dotnet_gc_collections "\"$g\""))))
  done
  awk -v a="$(awk '/^system_runtime_dotnet_gc_pause_time/ { print $2 }' "$1")" -v b="$(awk '/^system_runtime_dotnet_gc_pause_time/ { print $2 }' "$2")" \
    -v g="${d[0]}/${d[1]}/${d[2]}" 'BEGIN { printf "%.2f s paused, gen0/1/2 %s", b - a, g }'
}

# fill N DIR: asks for /s/0 .. /s/<N-1> once each (fill.lua); sets FILL_S, FILL_RPS, FILLED, FILL_ORIGIN, FILL_ERR.
fill() {
  local n=$1 dir=$2 limit=$(($1 / 1000 + 60)) stop=$2/fill.stop before t0 t1="" wpid next_log deadline issued bad c0 c1
  before=$(origin_requests)
  c0=$(tree_cpu_ticks "$NODE_PID")
  log "N=$n: fill: $n distinct URLs, wrk -t1 -c$FILL_CONNECTIONS, ${limit}s at most"
  t0=$(date +%s.%N)
  SCALE_ORIGIN=$ORIGIN SCALE_N=$n SCALE_STOP_FILE=$stop \
    wrk -t1 -c"$FILL_CONNECTIONS" -d"${limit}s" --timeout "${WRK_TIMEOUT}s" -s "$HERE/fill.lua" \
    "http://127.0.0.1:$NPROXY" >"$dir/fill.wrk" 2>&1 9>&- &
  wpid=$!
  PIDS+=("$wpid")
  next_log=$((SECONDS + 30)); deadline=$((SECONDS + limit + 30))
  while kill -0 "$wpid" 2>/dev/null && ((SECONDS < deadline)); do
    # wrk's main thread waits out -d even when its thread stopped: the file says every URL was answered.
    if [[ -e $stop ]]; then t1=$(date +%s.%N); kill -INT "$wpid" 2>/dev/null || true; break; fi
    if ((SECONDS >= next_log)); then
      log "N=$n: fill: $(($(origin_requests) - before)) origin requests so far"
      next_log=$((next_log + 30))
    fi
    sleep 0.05
  done
  [[ -n $t1 ]] || t1=$(date +%s.%N)
  c1=$(tree_cpu_ticks "$NODE_PID")
  # On SIGINT wrk joins its thread and prints its figures; a SIGTERM (stop_pids) would lose them.
  for _ in $(seq 100); do kill -0 "$wpid" 2>/dev/null || break; sleep 0.1; done
  stop_pids "$wpid"
  raw "$n" "fill: wrk -t1 -c$FILL_CONNECTIONS -d${limit}s -s fill.lua" "$dir/fill.wrk"
  read -r issued FILLED bad < <(awk '/^fill / { print $2, $3, $4 }' "$dir/fill.wrk")
  [[ -n ${FILLED:-} ]] || die "N=$n: wrk printed no fill figures: $(tail -n 5 "$dir/fill.wrk")"
  FILL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  FILL_RPS=$(awk -v n="$FILLED" -v s="$FILL_S" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  sleep 1 # a store the node finishes after the last response still belongs to the fill
  FILL_ORIGIN=$(awk -v b="$before" 'NR > b && $3 != "/s/done"' "$ORIGIN_LOG" | wc -l)
  FILL_ERR=$(($(wrk_errors "$dir/fill.wrk") + bad))
  FILL_CPU=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" -v s="$FILL_S" -v n="$FILLED" \
    'BEGIN { printf "%.0f%% (%.0f us/req)", (s > 0 ? (b - a) / t / s * 100 : 0), (n > 0 ? (b - a) / t / n * 1e6 : 0) }')
  ((FILLED + bad == n)) || log "warning: N=$n: only $FILLED of $n URLs answered within ${limit}s"
  log "N=$n: filled $FILLED (non-200 $bad) in ${FILL_S}s: $FILL_RPS req/s, node CPU $FILL_CPU; origin saw $FILL_ORIGIN fill requests"
}

# hits N DIR: WARMUP (unrecorded) then DURATION seconds of uniformly random /s/<i>, i < N (hits.lua).
hits() {
  local n=$1 dir=$2 before c0 c1 sampler issued
  local args=(-t1 -c"$CONNECTIONS" --timeout "${WRK_TIMEOUT}s" --latency -s "$HERE/hits.lua" "http://127.0.0.1:$NPROXY")
  if ((WARMUP > 0)); then
    SCALE_ORIGIN=$ORIGIN SCALE_N=$n SCALE_SEED=$((SEED + 100)) wrk -d"${WARMUP}s" "${args[@]}" >"$dir/warm.wrk" 2>&1 9>&- \
      || die "N=$n: warm-up wrk failed: $(tail -n 5 "$dir/warm.wrk")"
  fi
  rss_sampler "$NODE_PID" "$dir/hits.rss" $((DURATION + 60)) 9>&- &
  sampler=$!
  PIDS+=("$sampler")
  metrics "$dir/hits-before.prom"
  before=$(origin_requests)
  c0=$(tree_cpu_ticks "$NODE_PID")
  log "N=$n: hits: wrk -t1 -c$CONNECTIONS -d${DURATION}s, uniformly random among the $n URLs"
  SCALE_ORIGIN=$ORIGIN SCALE_N=$n SCALE_SEED=$SEED wrk -d"${DURATION}s" "${args[@]}" >"$dir/hits.wrk" 2>&1 9>&- \
    || die "N=$n: wrk failed: $(tail -n 5 "$dir/hits.wrk")"
  c1=$(tree_cpu_ticks "$NODE_PID")
  sleep 1
  HIT_ORIGIN=$(($(origin_requests) - before))
  RSS_END=$(tree_rss "$NODE_PID")
  stop_pids "$sampler"
  echo "$RSS_END" >>"$dir/hits.rss"
  RSS_PEAK=$(peak_of "$dir/hits.rss")
  metrics "$dir/hits.prom" fresh
  raw "$n" "hits: wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency -s hits.lua" "$dir/hits.wrk"
  HIT_RPS=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$dir/hits.wrk")
  HIT_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$dir/hits.wrk")")
  HIT_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$dir/hits.wrk")")
  HIT_ERR=$(wrk_errors "$dir/hits.wrk")
  issued=$(awk '/^hits-issued/ { print $2 }' "$dir/hits.wrk")
  HIT_RATIO=$(awk -v o="$HIT_ORIGIN" -v c="${issued:-0}" 'BEGIN { if (c > 0) printf "%.4f", 1 - o / c; else printf "?" }')
  HIT_ISSUED=${issued:-0}
  HIT_US=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" -v c="$(awk '/requests in/ { print $1 }' "$dir/hits.wrk")" \
    'BEGIN { printf "%.1f", (c > 0 ? (b - a) / t / c * 1e6 : 0) }')
  log "N=$n: $HIT_RPS req/s, p50 $HIT_P50 ms, p99 $HIT_P99 ms, hit ratio $HIT_RATIO ($HIT_ORIGIN origin requests), peak RSS $(mib "$RSS_PEAK") MiB, end $(mib "$RSS_END") MiB"
}

# run_count N: a fresh node, filled with N entries, measured, left idle IDLE_WAIT s, stopped; holding the lock.
run_count() {
  local n=$1 dir=$TMP/n$1 sampler fill_peak rss_filled idle_act="-" idle_rss="-" warns a guess
  if [[ -n $RATE_N ]] && guess=$((n / (RATE > 0 ? RATE : 1))) && ((guess > FILL_BUDGET)); then
    log "N=$n: skipped: at N=$RATE_N's fill rate ($RATE req/s) its fill would take ~$((guess / 60)) min (FILL_BUDGET=${FILL_BUDGET}s)"
    ROWS+=("$(printf '%8s  skipped: at N=%s'"'"'s fill rate (%s req/s) the fill would take ~%s min, over FILL_BUDGET=%ss' "$n" "$RATE_N" "$RATE" $((guess / 60)) "$FILL_BUDGET")")
    return 0
  fi
  lock "N=$n"
  log "== N=$n: starting a node (Store:DiskBudget=$DISK_BUDGET)"
  start_node "$dir"
  rss_sampler "$NODE_PID" "$dir/fill.rss" $((n / 1000 + 150)) 9>&- &
  sampler=$!
  PIDS+=("$sampler")
  fill "$n" "$dir"
  rss_filled=$(tree_rss "$NODE_PID")
  stop_pids "$sampler"
  fill_peak=$(peak_of "$dir/fill.rss")
  metrics "$dir/fill.prom" fresh
  hits "$n" "$dir"
  a=$dir/hits.prom
  if ((IDLE_WAIT > 0)); then
    log "N=$n: idle for ${IDLE_WAIT}s (are idle activations collected?)"
    sleep "$IDLE_WAIT"
    # The census leaves out a grain type with no activation, and the gauge then keeps its last figure: one new
    # URL (one more origin request, after the hit phase's count) makes sure the type is there; minus that one.
    curl -sS -o /dev/null --max-time 30 -x "http://127.0.0.1:$NPROXY" "http://$ORIGIN/s/idle-probe" || true
    metrics "$dir/idle.prom" fresh
    idle_act=$(($(metric "$dir/idle.prom" cachecluster_grain_activations CacheEntryGrain) - 1))
    idle_rss=$(mib "$(tree_rss "$NODE_PID")")
    log "N=$n: after ${IDLE_WAIT}s idle: $idle_act entry activations, RSS $idle_rss MiB, store entries $(metric "$dir/idle.prom" cachecluster_store_entries)"
  fi
  cp "$NODE_LOG" "$dir/node.running.log"
  warns=$(grep -cE '^(warn|fail|crit):' "$dir/node.running.log" || true)
  if ((warns > 0)); then
    grep -A3 -E '^(warn|fail|crit):' "$dir/node.running.log" | head -n 4000 >"$RESULT_DIR/scale-$STAMP-N$n-warnings.log" || true
  fi
  stop_node
  unlock
  [[ $KEEP_TMP == 1 ]] || rm -rf "$dir/data"

  if ((n >= 10000)); then RATE_N=$n; RATE=$FILL_RPS; fi # the fill rate that predicts the next N's fill time
  END_RSS[$n]=$RSS_END
  HEAP[$n]=$(metric "$a" system_runtime_dotnet_gc_last_collection_heap_size)
  ROWS+=("$(printf "$FMT" "$n" "$FILL_S" "$FILL_RPS" "$HIT_RPS" "$HIT_P50" "$HIT_P99" "$HIT_RATIO" $((FILL_ERR + HIT_ERR)) \
    "$(mib "$RSS_PEAK")" "$(mib "$RSS_END")" "$(metric "$a" cachecluster_grain_activations CacheEntryGrain)" \
    "$(metric "$a" cachecluster_store_entries)" "$idle_act" "$idle_rss")")
  DETAILS+=("N=$n: fill: $FILLED of $n answered 200, origin saw $FILL_ORIGIN fill requests (expected $n), node CPU $FILL_CPU, RSS after fill $(mib "$rss_filled") MiB (peak $(mib "$fill_peak")), store entries $(metric "$dir/fill.prom" cachecluster_store_entries); hits: $HIT_ISSUED issued, $HIT_ORIGIN reached the origin, node outcomes $(outcomes "$dir/hits-before.prom" "$a"), node CPU $HIT_US us/req, GC $(gc_during "$dir/hits-before.prom" "$a"); activations all $(metric "$a" cachecluster_grain_activations) (CacheEntryGrain $(metric "$a" cachecluster_grain_activations CacheEntryGrain)); GC heap $(mib $((HEAP[$n] / 1024))) MiB (committed $(mib $(($(metric "$a" system_runtime_dotnet_gc_last_collection_memory_committed_size) / 1024))) MiB$( [[ -f $dir/idle.prom ]] && echo ", after idle $(mib $(($(metric "$dir/idle.prom" system_runtime_dotnet_gc_last_collection_heap_size) / 1024))) MiB")); store disk $(mib $(($(metric "$a" cachecluster_store_disk_bytes) / 1024))) MiB, log $(mib $(($(metric "$a" cachecluster_store_log_bytes) / 1024))) MiB, evictions $(metric "$a" cachecluster_store_evictions_total); node log warn/fail/crit entries $warns")
}

report() {
  local first="" n per
  {
    echo "Scale: N cached entries of 1 KiB on one node (Store:DiskBudget=$DISK_BUDGET, otherwise defaults${NODE_ARGS:+, $NODE_ARGS}); fill wrk -t1 -c$FILL_CONNECTIONS, hits wrk -t1 -c$CONNECTIONS -d${DURATION}s (warm-up ${WARMUP}s), idle ${IDLE_WAIT}s"
    echo "date $(date -Is)  host $(hostname)  cores $(nproc)  load before $LOAD_BEFORE  after $(loadavg)"
    echo "$BUILT; versions: $(wrk -v 2>&1 | sed -n 1p | cut -d' ' -f1-2), origin nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo
    printf "$FMT" N fill-s fill-r/s hit-r/s p50-ms p99-ms hit errors peakRSS endRSS entry-act store-ent idle-act idle-RSS
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "fill-r/s: origin-miss throughput (N distinct URLs, each asked once; s = until the last was answered)."
    echo "hit: 1 - origin requests / requests issued during the hit phase (counted in the origin's access log)."
    echo "RSS in MiB (VmRSS of the node's process tree): peak during the hit phase, at its end, and after idle-s."
    echo "entry-act: CacheEntryGrain activations (/metrics, at most 15 s old); idle-act: the same after the idle wait."
    echo "errors: wrk socket errors + non-2xx responses, fill and hits."
    for n in $COUNTS; do
      [[ -n ${END_RSS[$n]:-} ]] || continue
      if [[ -z $first ]]; then first=$n; continue; fi
      per=$(awk -v a="${END_RSS[$first]}" -v b="${END_RSS[$n]}" -v ha="${HEAP[$first]}" -v hb="${HEAP[$n]}" -v na="$first" -v nb="$n" \
        'BEGIN { printf "%.0f bytes of end RSS, %.0f bytes of GC heap", (b - a) * 1024 / (nb - na), (hb - ha) / (nb - na) }')
      echo "growth per entry from N=$first to N=$n: $per"
    done
    printf '%s\n' "${DETAILS[@]}"
  } >"$RESULT.table"
  cat "$RESULT.table"
  { cat "$RESULT.table"; echo; echo "---- raw wrk output"; cat "$RAW"; } >"$RESULT"
  rm -f "$RESULT.table"
  log "results written to ${RESULT#"$ROOT"/}"
}
