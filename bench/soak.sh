#!/usr/bin/env bash
# Soak (issue 10): petrel scrapes 200k active series from petrel-farm for --duration seconds and
# remote-writes them to victoria-metrics, while the receiver is restarted (every ~5 min, down
# 20-30 s, same data dir and port) and the config is reloaded (every ~7 min, alternating
# POST /-/reload and SIGHUP, and alternating two configs: scrape_interval 10s vs 15s).
# Everything runs on 127.0.0.1 with free ports; every process is stopped by PID.
#
#   bash bench/soak.sh [options]
#     --duration 3600       seconds of scraping (the farm serves for exactly this long)
#     --scenario 100x2000   targets x series per target (default 200k series)
#     --restart-every 300   seconds between receiver restarts (each +-30 s of jitter)
#     --reload-every 420    seconds between config reloads
#     --out FILE            also copy the RSS samples (TSV: seconds, RSS KiB) to FILE
#
# Environment: BUILD (default ./build) must hold agent/petrel and bench/farm/petrel-farm.
#
# Measures:
#   RSS     petrel's VmRSS from /proc/<pid>/status every 10 s; start, median, max, end, and the
#           least-squares slope (MiB/hour) over the second half of the run.
#   lost    the farm counts every sample it served in a 200 answer. At the end the farm is
#           paused (it answers 503 from then on), so that count is final; petrel is then given
#           up to 10 min to deliver, and the receiver's count_over_time of the farm's series
#           (node_*) is compared with it. victoria-metrics runs with -dedup.minScrapeInterval=1ms
#           so a batch resent after a restart (at-least-once) counts once: "received" is the
#           number of distinct (series, timestamp) samples.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-$ROOT/build}
DURATION=3600
SCENARIO=100x2000
RESTART_EVERY=300
RELOAD_EVERY=420
OUT=""
while [ $# -gt 0 ]; do
  case $1 in
    --duration) DURATION=$2 ;;
    --scenario) SCENARIO=$2 ;;
    --restart-every) RESTART_EVERY=$2 ;;
    --reload-every) RELOAD_EVERY=$2 ;;
    --out) OUT=$2 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
TARGETS=${SCENARIO%x*}
SERIES=${SCENARIO#*x}
source scripts/lib.sh
source bench/farm/farm_config.sh
ulimit -n 65536 2>/dev/null || true
for bin in "$BUILD/agent/petrel" "$BUILD/bench/farm/petrel-farm"; do
  [ -x "$bin" ] || { echo "soak.sh: $bin is missing; build it (see docs/benchmarks.md)" >&2; exit 1; }
done
command -v victoria-metrics >/dev/null || { echo "soak.sh: victoria-metrics is missing" >&2; exit 1; }
WORK=$(mktemp -d /tmp/petrel-soak.XXXXXX)
trap 'stop_all; rm -rf "$WORK"' EXIT
log() { echo "$(date -u +%H:%M:%S) soak: $*"; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
farm_stat() { awk -v k="$1" '$1 == k {print $2}' "$WORK/farm.stats"; }
median() { sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
# petrel_metric <name>: the sum of one of petrel's self-metrics.
petrel_metric() { metric_sum "$AG_PORT" "$1"; }

# The farm, paused until petrel is up.
start_farm "$BUILD/bench/farm/petrel-farm" "$WORK" "$TARGETS" "$SERIES"
wait_for 20 test -s "$WORK/farm.stats"
farm_paused_is() { [ "$(farm_stat paused)" = "$1" ]; }
farm_pause() {  # farm_pause 0|1
  [ "$(farm_stat paused)" = "$1" ] && return 0
  kill -USR1 "$FARM_PID"
  wait_for 10 farm_paused_is "$1"
}
farm_pause 1

# The receiver: one data dir and one port for the whole run, so a restart keeps its data.
VM_PORT=$(free_port)
vm_start() {
  local attempt
  for attempt in 1 2 3; do
    start_bg "$WORK/vm.log.$RESTARTS.$attempt" victoria-metrics -storageDataPath="$WORK/vm" \
      -httpListenAddr="127.0.0.1:$VM_PORT" -retentionPeriod=100y -search.latencyOffset=0s \
      -search.disableCache -search.maxUniqueTimeseries=5000000 -search.maxQueryDuration=600s \
      -search.maxSamplesPerQuery=10000000000 -dedup.minScrapeInterval=1ms -loggerLevel=ERROR
    VM_PID=$LAST_PID
    wait_for 60 curl -sf "http://127.0.0.1:$VM_PORT/health" && return 0
    stop_pid "$VM_PID"
  done
  echo "soak.sh: victoria-metrics did not start on $VM_PORT" >&2
  tail -20 "$WORK/vm.log.$RESTARTS.$attempt" >&2
  return 1
}
vm_query() {  # vm_query <promql>: the first value of an instant query, or empty
  { curl -sf --max-time 600 "http://127.0.0.1:$VM_PORT/api/v1/query" --data-urlencode "query=$1" || true; } |
    python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print("%d" % round(float(r[0]["value"][1])) if r else "")
except ValueError:
    print("")'
}
# vm_stop: SIGTERM, and time for victoria-metrics to flush what it acknowledged (a KILL
# would lose it on the receiver's side, not petrel's), so the wait is long.
vm_stop() {
  local i
  kill -TERM "$VM_PID" 2>/dev/null || return 0
  for ((i = 0; i < 600; i++)); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$VM_PID" 2>/dev/null; then
    log "victoria-metrics did not stop in 120 s; killing it"
    kill -KILL "$VM_PID" 2>/dev/null || true
  fi
  wait "$VM_PID" 2>/dev/null || true
  forget_pid "$VM_PID"
}
RESTARTS=0
vm_start

# Two configs that differ in real work: the scrape interval, 10s vs 15s, so a reload rebuilds
# every scrape loop. The series stay the same, so the farm's count stays comparable.
write_config() {  # write_config <interval> <file>
  { farm_scrape_configs "$TARGETS" "$FARM_PORT" "$1"
    printf 'remote_write:\n  - url: http://127.0.0.1:%s/api/v1/write\n' "$VM_PORT"; } >"$2"
}
write_config 10s "$WORK/a.yml"
write_config 15s "$WORK/b.yml"
cp "$WORK/a.yml" "$WORK/petrel.yml"

AG_PORT=$(free_port)
start_bg "$WORK/petrel.log" "$BUILD/agent/petrel" --config.file="$WORK/petrel.yml" \
  --storage.agent.path="$WORK/data" --web.listen-address="127.0.0.1:$AG_PORT" \
  --web.enable-lifecycle
PID=$LAST_PID
wait_for 30 curl -sf "http://127.0.0.1:$AG_PORT/-/ready" ||
  { echo "soak.sh: petrel not ready; log:" >&2; tail -20 "$WORK/petrel.log" >&2; exit 1; }

log "$TARGETS targets x $SERIES series, ${DURATION}s, receiver restart every ~${RESTART_EVERY}s, reload every ${RELOAD_EVERY}s; $(nproc) cores, $(uname -r); petrel $PID on $AG_PORT, victoria-metrics on $VM_PORT"
S0=$(farm_stat samples)
farm_pause 0
T0=$SECONDS
RELOADS=0
RELOAD_FAILS=0
next_restart=$((RESTART_EVERY + RANDOM % 61 - 30))
next_reload=$RELOAD_EVERY
vm_up_at=0  # while the receiver is down: the elapsed second at which it comes back
: >"$WORK/rss.tsv"

reload() {  # alternates the config file and the way the reload is asked for
  local cfg want before after
  if [ $((RELOADS % 2)) -eq 0 ]; then cfg=b; else cfg=a; fi
  cp "$WORK/$cfg.yml" "$WORK/petrel.yml.tmp" && mv "$WORK/petrel.yml.tmp" "$WORK/petrel.yml"
  before=$(petrel_metric prometheus_config_last_reload_success_timestamp_seconds)
  if [ $((RELOADS % 2)) -eq 0 ]; then
    curl -sf -X POST "http://127.0.0.1:$AG_PORT/-/reload" >/dev/null || true
  else
    kill -HUP "$PID"
  fi
  RELOADS=$((RELOADS + 1))
  reload_done() {
    after=$(petrel_metric prometheus_config_last_reload_success_timestamp_seconds)
    [ "$after" != "$before" ] && [ "$(petrel_metric prometheus_config_last_reload_successful)" = 1 ]
  }
  if wait_for 30 reload_done; then
    log "reload $RELOADS ($([ $((RELOADS % 2)) -eq 1 ] && echo POST || echo SIGHUP)): config $cfg"
  else
    RELOAD_FAILS=$((RELOAD_FAILS + 1))
    log "reload $RELOADS: NOT confirmed within 30 s"
  fi
}

# The main loop: one RSS sample every 10 s; restarts and reloads at their times.
while :; do
  el=$((SECONDS - T0))
  [ "$el" -ge "$DURATION" ] && break
  kill -0 "$PID" 2>/dev/null || { echo "soak.sh: petrel exited; log:" >&2; tail -30 "$WORK/petrel.log" >&2; exit 1; }
  printf '%d\t%d\n' "$el" "$(rss_kb "$PID")" >>"$WORK/rss.tsv"
  if [ "$vm_up_at" -gt 0 ] && [ "$el" -ge "$vm_up_at" ]; then
    vm_start
    vm_up_at=0
    log "receiver back (restart $RESTARTS)"
  elif [ "$vm_up_at" -eq 0 ] && [ "$el" -ge "$next_restart" ] && [ $((DURATION - el)) -gt 60 ]; then
    vm_stop
    RESTARTS=$((RESTARTS + 1))
    down=$((20 + RANDOM % 11))
    vm_up_at=$((el + down))
    next_restart=$((el + RESTART_EVERY + RANDOM % 61 - 30))
    log "receiver stopped (restart $RESTARTS), down for ${down}s"
  fi
  if [ "$el" -ge "$next_reload" ] && [ $((DURATION - el)) -gt 30 ]; then
    reload
    next_reload=$((next_reload + RELOAD_EVERY))
  fi
  sleep $((10 - (SECONDS - T0 - el) % 10))
done
[ "$vm_up_at" -gt 0 ] && { vm_start; log "receiver back (restart $RESTARTS)"; }

# Freeze the expected count, then give petrel up to 10 minutes to deliver it.
farm_pause 1
EXPECTED=$(($(farm_stat samples) - S0))
log "farm paused after $((SECONDS - T0))s: $EXPECTED samples served; waiting for delivery"
drain_from=$SECONDS
RECEIVED=0
deadline=$((SECONDS + 600))
while [ $SECONDS -lt $deadline ]; do
  span=$((SECONDS - T0 + 120))
  RECEIVED=$(vm_query "sum(count_over_time({__name__=~\"node_.+\"}[${span}s]))")
  RECEIVED=${RECEIVED:-0}
  [ "$RECEIVED" -ge "$EXPECTED" ] && break
  sleep 5
done
DRAIN=$((SECONDS - drain_from))
FAILED=$(petrel_metric prometheus_remote_storage_samples_failed_total)
HWM=$(($(hwm_kb "$PID") / 1024))
stop_pid "$PID"

[ -n "$OUT" ] && cp "$WORK/rss.tsv" "$OUT"
# RSS figures (MiB) and the least-squares slope over the second half, in MiB/hour.
read -r R_START R_END R_MAX SLOPE N < <(awk -v half=$((DURATION / 2)) '
  NR == 1 { start = $2 } { end = $2; if ($2 > max) max = $2 }
  $1 >= half { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
  END { slope = (n > 1) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
        printf "%.1f %.1f %.1f %.2f %d\n", start / 1024, end / 1024, max / 1024, slope * 3600 / 1024, n }' "$WORK/rss.tsv")
R_MED=$(cut -f2 "$WORK/rss.tsv" | median | awk '{printf "%.1f", $1 / 1024}')
LOST=$((EXPECTED - RECEIVED))
echo "soak summary: ${DURATION}s, $TARGETS x $SERIES series"
printf '  RSS MiB    start %s  median %s  max %s  end %s  (VmHWM %d)  slope over 2nd half %s MiB/h (%d samples)\n' \
  "$R_START" "$R_MED" "$R_MAX" "$R_END" "$HWM" "$SLOPE" "$N"
printf '  samples    expected %d  received %d  lost %d  (delivered %ds after the farm paused; petrel samples_failed_total %s)\n' \
  "$EXPECTED" "$RECEIVED" "$LOST" "$DRAIN" "$FAILED"
printf '  events     receiver restarts %d  config reloads %d (%d not confirmed)\n' "$RESTARTS" "$RELOADS" "$RELOAD_FAILS"
[ "$LOST" -eq 0 ] && [ "$RELOAD_FAILS" -eq 0 ]
