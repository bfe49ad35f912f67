#!/usr/bin/env bash
# Scale run (issue 6, acceptance 4): N targets x S series at INTERVAL, served by petrel-farm
# on 127.0.0.1, scraped for DURATION by petrel and then by Prometheus in agent mode on the
# same farm. Reports per agent: CPU seconds, CPU-s per million samples, steady and peak RSS,
# scrapes done vs expected, and (petrel) the p99 scrape start lag.
#
#   bash bench/scale.sh [targets=5000] [series=200] [interval=15s] [duration_s=120]
#
# Expects a built tree (scripts/build.sh): build/agent/petrel, build/bench/farm/petrel-farm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGETS=${1:-5000}
SERIES=${2:-200}
INTERVAL=${3:-15s}
DURATION=${4:-120}
source scripts/lib.sh
source bench/farm/farm_config.sh
ulimit -n 65536 2>/dev/null || true
WORK=$(mktemp -d /tmp/petrel-scale.XXXXXX)
trap 'stop_all; rm -rf "$WORK"' EXIT

start_bg "$WORK/farm.log" "$ROOT/build/bench/farm/petrel-farm" --port 0 --targets "$TARGETS" \
  --series "$SERIES" --port-file "$WORK/farm.port" --stats-file "$WORK/farm.stats"
wait_for 20 test -s "$WORK/farm.port"
FARM=$(cat "$WORK/farm.port")

farm_scrape_configs "$TARGETS" "$FARM" "$INTERVAL" >"$WORK/scale.yml"

farm_requests() { awk '/^requests/ {print $2}' "$WORK/farm.stats"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
secs=${INTERVAL%s}
TICK=$(getconf CLK_TCK)

# measure <name> <pid> <metrics url or "">: warm up two intervals, then measure DURATION.
measure() {
  local name=$1 pid=$2 url=$3
  sleep $((secs * 2 + 5))
  local r0 c0 r1 c1
  r0=$(farm_requests); c0=$(cpu_ticks "$pid")
  local lag0=""
  [ -n "$url" ] && curl -sf "$url" >"$WORK/$name.m0"
  local rss_sum=0 n=0
  for ((t = 0; t < DURATION; t += 5)); do
    sleep 5
    rss_sum=$((rss_sum + $(rss_kb "$pid"))); n=$((n + 1))
  done
  r1=$(farm_requests); c1=$(cpu_ticks "$pid")
  local scrapes=$((r1 - r0))
  local expected=$((TARGETS * DURATION / secs))
  local cpu
  cpu=$(echo "scale=2; ($c1 - $c0) / $TICK" | bc)
  local samples=$((scrapes * (SERIES + 5)))
  local per_m
  per_m=$(echo "scale=3; $cpu * 1000000 / $samples" | bc)
  printf '%-10s scrapes %d/%d (%.1f%%)  CPU %ss  %s CPU-s/M samples  RSS %d MiB (peak %d MiB)\n' \
    "$name" "$scrapes" "$expected" "$(echo "100 * $scrapes / $expected" | bc -l)" "$cpu" "$per_m" \
    $((rss_sum / n / 1024)) $(($(hwm_kb "$pid") / 1024))
  if [ -n "$url" ]; then
    curl -sf "$url" >"$WORK/$name.m1"
    # p99 of the start-lag histogram over the window (bucket deltas).
    awk -v f0="$WORK/$name.m0" '
      function load(file, arr,   line, le) {
        while ((getline line < file) > 0) {
          if (line ~ /^petrel_target_scrape_start_lag_seconds_bucket/) {
            match(line, /le="[^"]+"/); le = substr(line, RSTART + 4, RLENGTH - 5)
            split(line, parts, " "); arr[le] = parts[2]; order[++nb] = le
          }
        }
      }
      BEGIN { load(f0, a); nb = 0; load(ARGV[1], b); ARGV[1] = "";
        total = b["+Inf"] - a["+Inf"];
        for (i = 1; i <= nb; i++) { le = order[i]; if (b[le] - a[le] >= 0.99 * total) { print "  p99 scrape start lag <= " le " s (" total " scrapes)"; exit } } }
    ' "$WORK/$name.m1"
  fi
}

echo "scale: $TARGETS targets x $SERIES series every $INTERVAL, ${DURATION}s measured; farm on 127.0.0.1:$FARM"
PORT=$(free_port)
start_bg "$WORK/petrel.log" "$ROOT/build/agent/petrel" --config.file="$WORK/scale.yml" \
  --storage.agent.path="$WORK/petrel-data" --web.listen-address="127.0.0.1:$PORT"
PID=$LAST_PID
wait_for 30 curl -sf "http://127.0.0.1:$PORT/-/ready"
measure petrel "$PID" "http://127.0.0.1:$PORT/metrics"
kill -TERM "$PID"; wait "$PID" 2>/dev/null || true

if command -v prometheus >/dev/null; then
  PORT=$(free_port)
  start_bg "$WORK/prom.log" prometheus --enable-feature=agent --config.file="$WORK/scale.yml" \
    --storage.agent.path="$WORK/prom-data" --web.listen-address="127.0.0.1:$PORT"
  PID=$LAST_PID
  wait_for 60 curl -sf "http://127.0.0.1:$PORT/-/ready"
  measure prometheus "$PID" ""
  kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
fi
