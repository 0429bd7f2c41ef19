# Sourced by bench/zipf.sh: runs each target (warm-up, measured run), samples its memory, counts what reached
# the origin, and prints / writes the report. Uses the helpers and variables of zipf.sh, anchors.sh, nodes.sh.

RESULT_DIR=$ROOT/bench/results
mkdir -p "$RESULT_DIR"
RESULT=$RESULT_DIR/zipf-$STAMP.txt
RAW=$TMP/raw.txt
: >"$RAW"
ROWS=()      # the table's rows
DETAILS=()   # lines printed under the table
HEAD_FMT='%-8s %9s %9s %9s %7s %7s %8s %6s %6s %8s %8s %8s\n'

# rss_sampler ROOTS_FILE OUT: once a second, one line "<total> <tree of root 1> <tree of root 2> ..." in KiB:
# VmRSS of each root process (pids in ROOTS_FILE, one a line; more may be added) summed over all its descendants.
rss_sampler() {
  local end=$((SECONDS + WARMUP + DURATION + 900))
  while ((SECONDS < end)); do
    ps -e -o pid=,ppid=,rss= | awk -v roots="$(tr '\n' ' ' <"$1")" '
      { parent[$1] = $2; rss[$1] = $3 }
      END {
        n = split(roots, r, " ")
        for (p in parent) { # walk up to a root (or to the top): bounded by the tree depth
          q = p
          for (d = 0; d < 64 && q > 1; d++) {
            for (i = 1; i <= n; i++) if (q == r[i]) { sum[i] += rss[p]; total += rss[p]; d = 64; break }
            if (d < 64) q = parent[q]
          }
        }
        line = total + 0
        for (i = 1; i <= n; i++) line = line " " sum[i] + 0
        print line
      }' >>"$2"
    sleep 1
  done
}

# tree_ticks ROOTS_FILE: CPU time (user + system, clock ticks) used so far by the process trees of the pids in
# ROOTS_FILE (exited children reaped by their parent count in its cutime/cstime).
tree_ticks() {
  local f line
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    f=${f#/proc/}
    echo "${f%/stat} ${line##*) }"
  done | awk -v roots="$(tr '\n' ' ' <"$1")" '
    { parent[$1] = $3; ticks[$1] = $13 + $14 + $15 + $16 }
    END {
      n = split(roots, r, " ")
      for (p in parent) {
        q = p
        for (d = 0; d < 64 && q > 1; d++) {
          for (i = 1; i <= n; i++) if (q == r[i]) { total += ticks[p]; d = 64; break }
          if (d < 64) q = parent[q]
        }
      }
      printf "%.0f\n", total
    }'
}

# box_ticks: "idle total" clock ticks of the whole machine so far (/proc/stat).
box_ticks() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat; }

to_ms() { # wrk latency (512.00us / 1.23ms / 2.01s / 1.00m) in ms
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.2f", n }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }    # KiB -> MiB
ratio() { awk -v o="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.3f", 1 - o / c; else printf "?" }'; }

# run_load PHASE SECONDS SEED: one wrk per target port, CONNECTIONS split between them, all at once; their
# output in $TMP/<target>-<PHASE>-<i>.wrk. With JOIN=1 the measured phase gets a node joining after 1/3.
run_load() {
  local phase=$1 secs=$2 seed=$3 i n=${#T_PORTS[@]} c wpids=()
  c=$(((CONNECTIONS + n - 1) / n))
  ((c >= THREADS)) || c=$THREADS
  local stop_after=0
  [[ $phase == warm ]] && ((WARMUP_REQUESTS > 0)) && stop_after=$(((WARMUP_REQUESTS + n * THREADS - 1) / (n * THREADS)))
  for ((i = 0; i < n; i++)); do
    ZIPF_SIZES=$TMP/objects/sizes.txt ZIPF_ORIGIN=$ORIGIN ZIPF_S=$ZIPF ZIPF_SEED=$((seed + i)) ZIPF_STOP_AFTER=$stop_after \
      ZIPF_STOP_FILE=$TMP/$CUR-$phase-$i.stop \
      wrk -t"$THREADS" -c"$c" -d"${secs}s" --timeout "${WRK_TIMEOUT}s" --latency -s "$HERE/zipf.lua" \
      "http://127.0.0.1:${T_PORTS[i]}" >"$TMP/$CUR-$phase-$i.wrk" 2>&1 &
    wpids+=($!)
    PIDS+=($!)
  done
  if [[ $phase == measure && $CUR == node && $JOIN == 1 ]]; then
    sleep $((secs / 3))
    join_node
  fi
  if ((stop_after > 0)); then # each wrk is ended (SIGINT: it prints its figures) once its threshold is reached
    local left deadline=$((SECONDS + secs + 5))
    while ((SECONDS < deadline)); do
      left=0
      for i in "${!wpids[@]}"; do
        kill -0 "${wpids[i]}" 2>/dev/null || continue
        left=1
        [[ -e $TMP/$CUR-$phase-$i.stop ]] && kill -INT "${wpids[i]}" 2>/dev/null
      done
      ((left)) || break
      sleep 0.5
    done
  fi
  for i in "${!wpids[@]}"; do
    wait "${wpids[i]}" || die "wrk against ${T_NAMES[i]} failed: $(tail -n 5 "$TMP/$CUR-$phase-$i.wrk")"
  done
  stop_pids "${wpids[@]}"
  sleep 1 # fills the proxies finish after the clients are gone still count for this phase
}

# wrk_field FILE NAME: one figure of a wrk output.
wrk_field() {
  case $2 in
    rps) awk '/^Requests\/sec:/ {print $2}' "$1" ;;
    p50) awk '$1 == "50%" {print $2}' "$1" ;;
    p99) awk '$1 == "99%" {print $2}' "$1" ;;
    done) awk '/requests in/ {print $1}' "$1" ;;
    issued) awk '/^zipf-issued/ {print $2}' "$1" ;;
    ibytes) awk '/^zipf-issued/ {print $3}' "$1" ;;
    non2xx) awk -F': *' '/Non-2xx or 3xx responses/ {n = $2} END {print n + 0}' "$1" ;;
    errors) awk '/Socket errors/ {gsub(",", ""); c = $4; r = $6; w = $8; t = $10} END {printf "%.0f/%.0f/%.0f/%.0f", c, r, w, t}' "$1" ;;
  esac
}

# metric FILE NAME [LABEL]: a value from a /metrics scrape (the last series of that name having LABEL; 0 when absent).
metric() {
  awk -v n="$2" -v l="${3:-}" '{ name = $1; sub(/\{.*/, "", name) } name == n && (l == "" || index($1, l)) { v = $2 }
    END { printf "%.0f", v + 0 }' "$1"
}

run_target() {
  CUR=$1
  local i n before after reqs bytes issued ibytes status sampler rss_peak rss_end origin_mib
  log "== $CUR: starting"
  case $CUR in
    node) start_nodes ;;
    ats) start_ats ;;
    squid) start_squid ;;
  esac
  n=${#T_PORTS[@]}
  printf '%s\n' "${T_ROOTS[@]}" >"$TMP/rss-roots"
  rss_sampler "$TMP/rss-roots" "$TMP/$CUR.rss" &
  sampler=$!
  PIDS+=("$sampler")
  if ((WARMUP > 0)); then
    if ((WARMUP_REQUESTS > 0)); then log "$CUR: warm-up $WARMUP_REQUESTS requests, ${WARMUP}s at most (not recorded)"
    else log "$CUR: warm-up ${WARMUP}s (not recorded)"; fi
    run_load warm "$WARMUP" $((SEED + 100))
    log "$CUR: warm-up done: $(wrk_field "$TMP/$CUR-warm-0.wrk" done) requests in $(awk '/requests in/ {print $4}' "$TMP/$CUR-warm-0.wrk" | tr -d ,)$( ((n > 1)) && echo " (first wrk of $n)")"
  fi
  warn_load "after $CUR's warm-up"
  if [[ $CUR == node ]]; then for ((i = 1; i <= NODES; i++)); do metrics "$i" >"$TMP/node$i-before.prom"; done; fi
  before=$(wc -l <"$ORIGIN_LOG")
  log "$CUR: measuring ${DURATION}s"
  local cpu0 cpu1 idle0 idle1 box0 box1
  cpu0=$(tree_ticks "$TMP/rss-roots"); read -r idle0 box0 < <(box_ticks)
  run_load measure "$DURATION" "$SEED"
  cpu1=$(tree_ticks "$TMP/rss-roots"); read -r idle1 box1 < <(box_ticks)
  after=$(wc -l <"$ORIGIN_LOG")
  if [[ $CUR == node ]]; then for ((i = 1; i <= ${#NPID[@]}; i++)); do metrics "$i" >"$TMP/node$i-after.prom"; done; fi
  stop_pids "$sampler"

  # What reached the origin during the measured phase.
  read -r reqs bytes status < <(awk -v a="$before" -v b="$after" 'NR > a && NR <= b { n++; s += $2; st[$1]++ }
    END { l = ""; for (k in st) l = l (l == "" ? "" : ",") k ":" st[k]; printf "%.0f %.0f %s\n", n, s, (l == "" ? "-" : l) }' "$ORIGIN_LOG")
  issued=0; ibytes=0
  local rps=0 p50max=0 p99max=0 errs=() non=0 c r w t cr=0 rr=0 wr=0 tr=0 f
  for ((i = 0; i < n; i++)); do
    f=$TMP/$CUR-measure-$i.wrk
    printf '==== %s %s (measured): wrk -t%s -c%s -d%ss --timeout %ss --latency -s zipf.lua http://127.0.0.1:%s\n%s\n\n' \
      "$CUR" "${T_NAMES[i]}" "$THREADS" $(((CONNECTIONS + n - 1) / n)) "$DURATION" "$WRK_TIMEOUT" "${T_PORTS[i]}" "$(cat "$f")" >>"$RAW"
    issued=$((issued + $(wrk_field "$f" issued))); ibytes=$((ibytes + $(wrk_field "$f" ibytes)))
    rps=$(awk -v a="$rps" -v b="$(wrk_field "$f" rps)" 'BEGIN { printf "%.0f", a + b }')
    p50max=$(awk -v a="$p50max" -v b="$(to_ms "$(wrk_field "$f" p50)")" 'BEGIN { print (b > a ? b : a) }')
    p99max=$(awk -v a="$p99max" -v b="$(to_ms "$(wrk_field "$f" p99)")" 'BEGIN { print (b > a ? b : a) }')
    non=$((non + $(wrk_field "$f" non2xx)))
    IFS=/ read -r c r w t <<<"$(wrk_field "$f" errors)"
    cr=$((cr + c)); rr=$((rr + r)); wr=$((wr + w)); tr=$((tr + t))
    if ((n > 1)); then
      local hits total
      hits=$(($(metric "$TMP/node$((i + 1))-after.prom" cachecluster_requests_total 'outcome="hit"') - $(metric "$TMP/node$((i + 1))-before.prom" cachecluster_requests_total 'outcome="hit"')))
      total=$(($(awk '/^cachecluster_requests_total/ {s += $2} END {printf "%.0f", s}' "$TMP/node$((i + 1))-after.prom") - $(awk '/^cachecluster_requests_total/ {s += $2} END {printf "%.0f", s}' "$TMP/node$((i + 1))-before.prom")))
      ROWS+=("$(printf "$HEAD_FMT" "${T_NAMES[i]}" "$(wrk_field "$f" rps | cut -d. -f1)" "$(to_ms "$(wrk_field "$f" p50)")" "$(to_ms "$(wrk_field "$f" p99)")" \
        "$(ratio $((total - hits)) "$total")*" "-" "-" "$(wrk_field "$f" errors | tr / +)" "$(wrk_field "$f" non2xx)" "-" \
        "$(mib "$(awk -v c=$((i + 2)) '$c > m {m = $c} END {print m + 0}' "$TMP/$CUR.rss")")" "$(mib "$(awk -v c=$((i + 2)) 'END {print $c + 0}' "$TMP/$CUR.rss")")")")
    fi
  done
  local sum_err=$((cr + rr + wr + tr))
  rss_peak=$(awk '$1 > m {m = $1} END {print m + 0}' "$TMP/$CUR.rss"); rss_end=$(awk 'END {print $1 + 0}' "$TMP/$CUR.rss")
  origin_mib=$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')
  local name=$CUR
  ((n > 1)) && name="cluster"
  ROWS+=("$(printf "$HEAD_FMT" "$name" "$rps" "$p50max" "$p99max" "$(ratio "$reqs" "$issued")" "$(ratio "$bytes" "$ibytes")" \
    "$reqs" "$sum_err" "$non" "$origin_mib" "$(mib "$rss_peak")" "$(mib "$rss_end")")")
  local done_n
  done_n=$(for ((i = 0; i < n; i++)); do wrk_field "$TMP/$CUR-measure-$i.wrk" done; done | paste -sd+ | bc) # requests completed, over all wrk processes
  DETAILS+=("$name: issued $issued requests ($(awk -v b="$ibytes" 'BEGIN { printf "%.0f", b / 1048576 }') MiB of bodies), completed $done_n; origin: $reqs requests ($status), $origin_mib MiB; socket errors connect/read/write/timeout $cr/$rr/$wr/$tr, non-2xx $non")
  # CPU per request: on a machine the proxy shares with wrk and the origin, req/s follows it (see bench/README.md).
  local hz cpu_s
  hz=$(getconf CLK_TCK)
  cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz }')
  DETAILS+=("$name: CPU during the measured phase (+1 s): ${cpu_s} s of the proxy's process tree, $(awk -v c="$cpu_s" -v d="$DURATION" 'BEGIN { printf "%.0f", c * 100 / (d + 1) }')% of one core, $(awk -v c="$cpu_s" -v r="$done_n" 'BEGIN { if (r > 0) printf "%.0f", c * 1e6 / r; else printf "?" }') us per request; the machine was $(awk -v i0="$idle0" -v i1="$idle1" -v b0="$box0" -v b1="$box1" 'BEGIN { if (b1 > b0) printf "%.0f", (i1 - i0) * 100 / (b1 - b0); else printf "?" }')% idle (wrk and the origin share its cores)")
  if [[ $CUR == node ]]; then node_details; fi
  case $CUR in
    node) stop_nodes ;;
    *) stop_pids "${T_ROOTS[@]}" ;;
  esac
  log "$CUR: $rps req/s, p99 ${p99max} ms, hit ratio $(ratio "$reqs" "$issued"), byte hit ratio $(ratio "$bytes" "$ibytes"), errors $sum_err (c/r/w/t $cr/$rr/$wr/$tr), non-2xx $non, peak RSS $(mib "$rss_peak") MiB"
}

# node_details: per node, the log lines that show cut-off responses, store metrics and peak RSS.
node_details() {
  local i lost aborted warns peak a
  for ((i = 1; i <= ${#NPID[@]}; i++)); do
    # What the node logged while running (not while stopping, which happens after this).
    cp "${NLOG[i]}" "$TMP/node$i.running.log"
    lost=$(grep -c 'lost chunk' "$TMP/node$i.running.log" || true)
    aborted=$(grep -ci 'aborted' "$TMP/node$i.running.log" || true)
    warns=$(grep -cE '^(warn|fail|crit):' "$TMP/node$i.running.log" || true)
    peak=$(awk -v c=$((i + 1)) '$c > m {m = $c} END {print m + 0}' "$TMP/node.rss")
    a=$TMP/node$i-after.prom
    DETAILS+=("node$i: log lines 'lost chunk' $lost, 'aborted' $aborted, warn/fail entries $warns; peak RSS $(mib "$peak") MiB; store entries $(metric "$a" cachecluster_store_entries), body $(mib $(($(metric "$a" cachecluster_store_body_bytes) / 1024))) MiB, disk $(mib $(($(metric "$a" cachecluster_store_disk_bytes) / 1024))) MiB, log $(mib $(($(metric "$a" cachecluster_store_log_bytes) / 1024))) MiB, evictions $(metric "$a" cachecluster_store_evictions_total) ($(mib $(($(metric "$a" cachecluster_store_evicted_bytes_total) / 1024))) MiB), copied forward $(metric "$a" cachecluster_store_moved_entries_total) entries ($(mib $(($(metric "$a" cachecluster_store_moved_bytes_total) / 1024))) MiB), write waits $(metric "$a" cachecluster_store_write_waits_total) ($(metric "$a" cachecluster_store_write_wait_seconds_total) s), hot copies $(metric "$a" cachecluster_hot_entries) ($(mib $(($(metric "$a" cachecluster_hot_bytes) / 1024))) MiB); outcomes during the run: $(outcomes "$i"); p50/p99 ms by outcome (the node's histogram, bucket upper bounds): $(latencies "$i")")
    if ((lost + aborted > 0)); then
      DETAILS+=("  first of them: $(grep -m3 -iE 'lost chunk|aborted' "$TMP/node$i.running.log" | cut -c1-220 | paste -sd'|')")
    fi
    # The warnings and errors (with 3 lines of context each) go next to the results.
    grep -A3 -E '^(warn|fail|crit):' "$TMP/node$i.running.log" | head -n 4000 >"$RESULT_DIR/zipf-$STAMP-node$i-warnings.log" || true
  done
}

# outcomes I: the node's request outcomes during the measured phase ("hit 123 miss 45 ...").
outcomes() {
  local b=$TMP/node$1-before.prom a=$TMP/node$1-after.prom
  [[ -f $b ]] || b=/dev/null
  awk -F'[{}" ]+' '/^cachecluster_requests_total\{/ { v[$3] += (FILENAME == ARGV[1] ? -$NF : $NF) }
    END { for (k in v) if (v[k] != 0) printf "%s %.0f ", k, v[k] }' "$b" "$a"
}

# latencies I: per outcome, the upper bounds of the duration buckets holding the 50th and 99th percentile during
# the measured phase ("hit 2.5/50 miss 5/100 ..."): where the tail comes from, which wrk cannot say.
latencies() {
  local b=$TMP/node$1-before.prom a=$TMP/node$1-after.prom
  [[ -f $b ]] || b=/dev/null
  awk -F'[{}" ,]+' '/^cachecluster_request_duration_seconds_bucket\{/ {
      o = ""; le = ""
      for (f = 2; f < NF; f += 2) { if ($f == "outcome=") o = $(f + 1); if ($f == "le=") le = $(f + 1) }
      if (o == "" || le == "") next
      c[o, le] += (FILENAME == ARGV[1] ? -$NF : $NF); les[le] = 1; outs[o] = 1 }
    END {
      n = 0; for (le in les) { n++; l[n] = le }
      for (i = 2; i <= n; i++) for (j = i; j > 1 && (l[j] == "+Inf" ? 1e99 : l[j] + 0) < (l[j-1] == "+Inf" ? 1e99 : l[j-1] + 0); j--) { t = l[j]; l[j] = l[j-1]; l[j-1] = t }
      for (o in outs) {
        total = c[o, "+Inf"]; if (total <= 0) continue
        p50 = ""; p99 = ""
        for (i = 1; i <= n; i++) {
          v = (l[i] == "+Inf" ? "inf" : l[i] * 1000)
          if (p50 == "" && c[o, l[i]] >= 0.5 * total) p50 = v
          if (p99 == "" && c[o, l[i]] >= 0.99 * total) p99 = v
        }
        printf "%s %s/%s ", o, p50, p99
      } }' "$b" "$a"
}

report() {
  {
    echo "Zipf mix: $OBJECTS objects, Zipf($ZIPF), seed $SEED, cache $CACHE_MIB MiB per proxy, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (warm-up $( ((WARMUP_REQUESTS > 0)) && echo "$WARMUP_REQUESTS requests, at most ")${WARMUP}s) --timeout ${WRK_TIMEOUT}s"
    echo "date $(date -Is)  host $(hostname)  cores $(nproc)  load before $LOAD_BEFORE  after $(loadavg)"
    echo "$SET_INFO"
    [[ -n $BUILT ]] && echo "$BUILT; NODES=$NODES JOIN=$JOIN NODE_ARGS=${NODE_ARGS:-none}"
    echo "versions: $(wrk -v 2>&1 | sed -n 1p | cut -d' ' -f1-2), origin $(nginx -v 2>&1 | sed 's/.*: //')$(command -v traffic_server >/dev/null && echo ", ats $(traffic_server --version 2>&1 | sed -n 's/^Traffic Server \([^ ]*\).*/\1/p' | head -n1)")$(command -v squid >/dev/null && echo ", squid $(squid -v | sed -n 's/.*Version \([^ ]*\).*/\1/p')")"
    echo
    printf "$HEAD_FMT" target req/s p50ms p99ms hit byte-hit orig-req errors non2xx orig-MiB peakRSS endRSS
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "hit / byte-hit: 1 - origin requests (body bytes) / requests (body bytes) asked during the measured phase,"
    echo "counted in the origin's access log; * = the node's own counters (cachecluster_requests_total hit / all)."
    echo "errors: wrk socket errors (connect+read+write+timeout; a response cut short is a read error). RSS in MiB,"
    echo "summed over the proxy's process tree, sampled every second from start to the end of the measured phase."
    printf '%s\n' "${DETAILS[@]}"
  } >"$RESULT.table"
  cat "$RESULT.table"
  { cat "$RESULT.table"; echo; echo "---- raw wrk output"; cat "$RAW"; } >"$RESULT"
  rm -f "$RESULT.table"
  log "results written to ${RESULT#"$ROOT"/}"
}
