#!/usr/bin/env bash
# Side-by-side benchmark (issue 9): petrel, Prometheus in agent mode and vmagent, one after the
# other, scrape the same petrel-farm targets and remote-write to a fresh victoria-metrics each.
# Everything runs on 127.0.0.1 with free ports; every process is stopped by PID.
#
#   bash bench/compare.sh [options]
#     --scenario TxS        targets x series per target (default 100x2000 = 200k series)
#     --interval 10s        scrape interval (also the scrape timeout)
#     --duration 120        seconds measured after a warm-up of two intervals plus 10 s
#     --outage 0            seconds the receiver is stopped after the measured window (0 = none)
#     --agents LIST         comma-separated, default petrel,prometheus,vmagent
#     --reps N              repetitions; the report gives each run and the median per agent
#     --out FILE            also append the raw rows (TSV) to FILE
#   Environment: BUILD (the build dir with agent/petrel and bench/farm/petrel-farm, default
#   build/), PETREL_ARGS (extra petrel flags, e.g. --storage.agent.wal-compression-type=zstd).
#
# Per agent and run it reports:
#   scrapes  scrapes in the window as a share of one per target per interval (<100%: lag)
#   cpu/M    CPU seconds of the agent process per million samples scraped, over the window
#   rss      median RSS over the window; peak = VmHWM over the whole run
#   disk/s   bytes of the agent's data dir at the end of the window per sample appended so far
#   wire/s   bytes the receiver read from its sockets over the window per sample scraped
#   dur      mean scrape duration, from the scrape_duration_seconds series at the receiver
#   lost     samples the farm served minus samples the receiver holds for them, after the farm
#            is paused (it answers 503 from then on) and the agent is given up to 10 min to
#            deliver; "drain" is the time that took (after the receiver came back, with --outage)
#   out-rss  with --outage: the peak RSS during the outage and the drain, vs steady
#
# How "lost" is exact: the farm counts every sample it served in a 200 answer; the receiver
# counts node_* samples with count_over_time. Both sides only see the farm's own series.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build}
SCENARIO=100x2000
INTERVAL=10s
DURATION=120
OUTAGE=0
AGENTS=petrel,prometheus,vmagent
REPS=1
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --scenario) SCENARIO=$2 ;;
    --interval) INTERVAL=$2 ;;
    --duration) DURATION=$2 ;;
    --outage) OUTAGE=$2 ;;
    --agents) AGENTS=$2 ;;
    --reps) REPS=$2 ;;
    --out) OUT=$2 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
TARGETS=${SCENARIO%x*}
SERIES=${SCENARIO#*x}
secs=${INTERVAL%s}
TICK=$(getconf CLK_TCK)
source scripts/lib.sh
source bench/farm/farm_config.sh
ulimit -n 65536 2>/dev/null || true
for bin in "$BUILD/agent/petrel" "$BUILD/bench/farm/petrel-farm"; do
  [ -x "$bin" ] || { echo "compare.sh: $bin is missing; run scripts/build.sh" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/petrel-compare.XXXXXX)
trap 'stop_all; rm -rf "$WORK"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
farm_stat() { awk -v k="$1" '$1 == k {print $2}' "$WORK/farm.stats"; }
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

start_bg "$WORK/farm.log" "$BUILD/bench/farm/petrel-farm" --port 0 --targets "$TARGETS" \
  --series "$SERIES" --port-file "$WORK/farm.port" --stats-file "$WORK/farm.stats"
FARM_PID=$LAST_PID
wait_for 20 test -s "$WORK/farm.port"
FARM=$(cat "$WORK/farm.port")
wait_for 20 test -s "$WORK/farm.stats"
# The farm starts serving; each run unpauses it when its agent starts and pauses it at the end.
farm_paused_is() { [ "$(farm_stat paused)" = "$1" ]; }
farm_pause() {
  local want=$1
  [ "$(farm_stat paused)" = "$want" ] && return 0
  kill -USR1 "$FARM_PID"
  wait_for 10 farm_paused_is "$want"
}
farm_pause 1

scrape_configs() { farm_scrape_configs "$TARGETS" "$FARM" "$INTERVAL"; }
scrape_configs >"$WORK/vmagent.yml"

vm_query() {  # vm_query <port> <promql>: the first value of an instant query, or empty (also
  # when the query fails, e.g. times out on a busy receiver: the callers poll again)
  { curl -sf --max-time 60 "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" || true; } |
    python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(r[0]["value"][1] if r else "")
except ValueError:
    print("")'
}
vm_metric() {  # vm_metric <port> <name>: sum of a self-metric of victoria-metrics
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%.0f\n", s}'
}
start_vm() {  # start_vm <port> <dir>
  start_bg "$WORK/vm.$2.log" victoria-metrics -storageDataPath="$WORK/$2" \
    -httpListenAddr="127.0.0.1:$1" -search.latencyOffset=0s -search.disableCache \
    -search.maxUniqueTimeseries=5000000 -retentionPeriod=1y -loggerLevel=ERROR
  VM_PID=$LAST_PID
  wait_for 30 curl -sf "http://127.0.0.1:$1/health"
}

run_one() {  # run_one <agent> <rep>
  local agent=$1 rep=$2 vm_port ag_port dir pid
  vm_port=$(free_port)
  start_vm "$vm_port" "vm-$agent-$rep"
  dir="$WORK/data-$agent-$rep"
  mkdir -p "$dir"
  ag_port=$(free_port)
  local rw="http://127.0.0.1:$vm_port/api/v1/write"
  { scrape_configs; printf 'remote_write:\n  - url: %s\n' "$rw"; } >"$WORK/$agent-rw.yml"
  local s0 r0
  s0=$(farm_stat samples)
  farm_pause 0
  local t_start=$SECONDS
  case $agent in
    petrel)
      start_bg "$WORK/$agent-$rep.log" "$BUILD/agent/petrel" --config.file="$WORK/$agent-rw.yml" \
        --storage.agent.path="$dir" --web.listen-address="127.0.0.1:$ag_port" \
        ${PETREL_ARGS:-} ;;
    prometheus)
      start_bg "$WORK/$agent-$rep.log" prometheus --enable-feature=agent \
        --config.file="$WORK/$agent-rw.yml" --storage.agent.path="$dir" \
        --web.listen-address="127.0.0.1:$ag_port" ;;
    vmagent)
      start_bg "$WORK/$agent-$rep.log" vmagent -promscrape.config="$WORK/vmagent.yml" \
        -remoteWrite.url="$rw" -remoteWrite.tmpDataPath="$dir" \
        -httpListenAddr="127.0.0.1:$ag_port" -loggerLevel=ERROR ;;
  esac
  pid=$LAST_PID
  sleep $((secs * 2 + 10))
  kill -0 "$pid" 2>/dev/null || { echo "compare.sh: $agent exited early; log:" >&2; tail -20 "$WORK/$agent-$rep.log" >&2; exit 1; }
  local c0 w0 f0 c1 w1 f1 rss_list=()
  local q0 q1
  q0=$(farm_stat requests)
  c0=$(cpu_ticks "$pid"); f0=$(farm_stat samples); w0=$(vm_metric "$vm_port" vm_tcplistener_read_bytes_total)
  for ((t = 0; t < DURATION; t += 5)); do
    sleep 5
    rss_list+=("$(rss_kb "$pid")")
  done
  q1=$(farm_stat requests)
  c1=$(cpu_ticks "$pid"); f1=$(farm_stat samples); w1=$(vm_metric "$vm_port" vm_tcplistener_read_bytes_total)
  local disk requests_total appended
  disk=$(du -sb "$dir" | awk '{print $1}')
  # Appended so far: the farm's samples plus the 5 series each scrape adds (up, scrape_*).
  appended=$(($(farm_stat samples) - s0))
  appended=$((appended + appended / SERIES * 5))
  local window=$((f1 - f0))
  local cpu_per_m rss_med wire disk_ps
  cpu_per_m=$(echo "scale=3; ($c1 - $c0) / $TICK * 1000000 / $window" | bc)
  rss_med=$(printf '%s\n' "${rss_list[@]}" | median)
  wire=$(echo "scale=2; ($w1 - $w0) / $window" | bc)
  disk_ps=$(echo "scale=2; $disk / $appended" | bc)
  local out_peak=0 drain_from
  if [ "$OUTAGE" -gt 0 ]; then
    kill -TERM "$VM_PID"; wait "$VM_PID" 2>/dev/null || true
    local t_end=$((SECONDS + OUTAGE)) disk_max=0
    while [ $SECONDS -lt $t_end ]; do
      sleep 5
      local r; r=$(rss_kb "$pid"); [ "$r" -gt "$out_peak" ] && out_peak=$r
      local d; d=$(du -sb "$dir" | awk '{print $1}'); [ "$d" -gt "$disk_max" ] && disk_max=$d
    done
    start_vm "$vm_port" "vm-$agent-$rep"
  fi
  drain_from=$SECONDS
  farm_pause 1
  local expected delivered=0 deadline=$((SECONDS + 600)) span
  expected=$(($(farm_stat samples) - s0))
  while [ $SECONDS -lt $deadline ]; do
    span=$((SECONDS - t_start + 60))
    delivered=$(vm_query "$vm_port" "sum(count_over_time({__name__=~\"node_.+\"}[${span}s]))")
    delivered=${delivered:-0}
    [ "$OUTAGE" -gt 0 ] && { local r; r=$(rss_kb "$pid"); [ "$r" -gt "$out_peak" ] && out_peak=$r; }
    [ "$delivered" -ge "$expected" ] && break
    sleep 2
  done
  local drain=$((SECONDS - drain_from))
  local dur
  dur=$(vm_query "$vm_port" "avg(avg_over_time(scrape_duration_seconds{job=\"farm\"}[$((SECONDS - t_start + 60))s]))")
  local peak; peak=$(($(hwm_kb "$pid") / 1024))
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  kill -TERM "$VM_PID"; wait "$VM_PID" 2>/dev/null || true
  local row
  row=$(printf '%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%.4f\t%d\t%d\t%d\t%d' "$SCENARIO" "$agent" "$rep" \
    "$cpu_per_m" $((rss_med / 1024)) "$peak" "$disk_ps" "$wire" "${dur:-0}" "$expected" \
    $((expected - delivered)) "$drain" $((out_peak / 1024)))
  echo "$row" >>"$WORK/rows.tsv"
  [ -n "$OUT" ] && echo "$row" >>"$OUT"
  # Scrapes in the window against one per target per interval: below 100% is scrape lag.
  local scrapes_pct
  scrapes_pct=$(echo "scale=1; 100 * ($q1 - $q0) * $secs / ($TARGETS * $DURATION)" | bc)
  printf '%-10s run %d: scrapes %5s%%  cpu/M %6s  rss %4d MiB (peak %4d)  disk/s %6s  wire/s %6s  dur %.3fs  expected %d lost %d  drain %ds%s\n' \
    "$agent" "$rep" "$scrapes_pct" "$cpu_per_m" $((rss_med / 1024)) "$peak" "$disk_ps" "$wire" "${dur:-0}" \
    "$expected" $((expected - delivered)) "$drain" \
    "$([ "$OUTAGE" -gt 0 ] && echo "  outage ${OUTAGE}s: rss peak $((out_peak / 1024)) MiB, data dir max $((disk_max / 1048576)) MiB")"
  rm -rf "$dir" "$WORK/vm-$agent-$rep"
}

echo "compare: $TARGETS targets x $SERIES series every $INTERVAL, ${DURATION}s measured, outage ${OUTAGE}s, $REPS run(s); $(nproc) cores, $(uname -r)"
IFS=, read -r -a agent_list <<<"$AGENTS"
for ((rep = 1; rep <= REPS; rep++)); do
  for agent in "${agent_list[@]}"; do
    run_one "$agent" "$rep"
  done
done
echo "medians over $REPS run(s):"
for agent in "${agent_list[@]}"; do
  awk -F'\t' -v a="$agent" '$2 == a' "$WORK/rows.tsv" >"$WORK/rows.$agent"
  col() { cut -f"$1" "$WORK/rows.$agent" | median; }
  printf '  %-10s cpu/M %s  rss %s MiB  peak %s MiB  disk/s %s  wire/s %s  dur %s s  lost %s\n' \
    "$agent" "$(col 4)" "$(col 5)" "$(col 6)" "$(col 7)" "$(col 8)" "$(col 9)" "$(col 11)"
done
