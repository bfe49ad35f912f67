# Shared by the fault tests (test/faults/*_test.sh), sourced after scripts/lib.sh.
# A petrel-farm target whose samples are counted exactly, petrel started and stopped by PID, and
# the accounting: what petrel's WAL holds (promtool tsdb dump) against what a receiver holds.
#
# "Scraped" means committed to petrel's WAL: a scrape whose records are in the data directory
# petrel replays (and promtool dumps) after it stops. A scrape cut by kill -9 before its record
# was fully written is not scraped; the farm may have served it.

for tool in prometheus promtool curl jq python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done
FAULTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SAMPLES="python3 $FAULTS_DIR/samples.py"

# faults_setup <name>: WORK, the exit trap, PORT for petrel.
faults_setup() {
  WORK=$(mktemp -d "/tmp/petrel-$1.XXXXXX")
  trap 'stop_all; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
  PORT=$(free_port)
  T0=$(date +%s)
}

fail() {
  echo "FAIL: $*" >&2
  echo "--- petrel log (tail)" >&2
  tail -30 "$WORK/petrel.log" >&2 2>/dev/null || true
  exit 1
}

log() { echo "[$(($(date +%s) - T0))s] $*"; }

# new_receiver <dir> [prometheus flags...]: start_receiver_at on a fresh free port, three tries
# (another process may take a free port before Prometheus binds it); sets R and RECEIVER_PID.
new_receiver() {
  local dir=$1 i
  shift
  for i in 1 2 3; do
    R=$(free_port)
    if start_receiver_at "$dir" "$R" "$@" 2>/dev/null; then return 0; fi
    stop_pid "$RECEIVER_PID" KILL
  done
  fail "no receiver could start in $dir: $(tail -3 "$dir/log")"
}

# farm_jobs <targets> [interval]: the scrape_configs of one job "farm" over every farm target.
farm_jobs() {
  local i targets=""
  for ((i = 0; i < $1; i++)); do targets+="\"127.0.0.1:$FARM_PORT\", "; done
  cat <<YAML
scrape_configs:
  - job_name: farm
    scrape_interval: ${2:-1s}
    scrape_timeout: ${2:-1s}
    static_configs:
YAML
  for ((i = 0; i < $1; i++)); do
    printf '      - targets: ["127.0.0.1:%s"]\n        labels: {t: "%d", __metrics_path__: /metrics/%d}\n' \
      "$FARM_PORT" "$i" "$i"
  done
}

# write_config <file> <scrape yaml> <remote_write yaml>
write_config() {
  printf 'global:\n  scrape_interval: 1s\n%s\n%s\n' "$2" "$3" >"$1"
}

# run_petrel <config> [flags...]: starts petrel on PORT with data in WORK/data, appending to
# WORK/petrel.log; sets PETREL_PID; waits until ready (or gone, for kill tests).
run_petrel() {
  local cfg=$1
  shift
  "$PETREL" --config.file="$cfg" --storage.agent.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PORT" --storage.remote.flush-deadline=2s "$@" \
    >>"$WORK/petrel.log" 2>&1 &
  PETREL_PID=$!
  PIDS_TO_STOP+=("$PETREL_PID")
}

petrel_ready() { wait_for 30 curl -sf "http://127.0.0.1:$PORT/-/ready"; }

# pm <metric> [label filter regex]: the sum of a petrel self-metric now.
pm() { metric_sum "$PORT" "$@"; }

# pm_gt <n> <metric> [label filter regex]: the metric is above n now (a command for wait_for).
pm_gt() {
  local n=$1
  shift
  (($(pm "$@") > n))
}

# acked_gt <n> <remote_name>: the endpoint has acknowledged more than n samples.
acked_gt() { (($(acked "$2") > $1)); }

# acked [remote_name]: samples the endpoint had acknowledged (sent minus retried minus failed;
# petrel counts every attempt in samples_total, as Prometheus does).
acked() {
  local f=${1:+remote_name=\"$1\"}
  echo $(($(pm prometheus_remote_storage_samples_total "$f") -
    $(pm prometheus_remote_storage_samples_retried_total "$f") -
    $(pm prometheus_remote_storage_samples_failed_total "$f")))
}

reloaded_since() { [ "$(pm prometheus_config_last_reload_success_timestamp_seconds)" != "$1" ]; }

# freeze <config>: reloads petrel with no scrape jobs, so the WAL stops growing (the farm's
# series get their stale markers). Waits for the reload to be applied.
freeze() {
  local before
  before=$(pm prometheus_config_last_reload_success_timestamp_seconds)
  printf 'global:\n  scrape_interval: 1s\nscrape_configs: []\n%s\n' "$2" >"$WORK/frozen.yml"
  cp "$WORK/frozen.yml" "$1"
  kill -HUP "$PETREL_PID"
  wait_for 20 reloaded_since "$before" ||
    fail "reload (freeze) not applied"
  # The last scrapes in flight commit within a scrape timeout: wait until appends stop.
  local last=-1 now stable=0 deadline=$(($(date +%s) + 20))
  while (($(date +%s) < deadline)); do
    now=$(pm prometheus_agent_samples_appended_total)
    if [ "$now" = "$last" ]; then
      stable=$((stable + 1))
      ((stable >= 4)) && return 0
    else
      stable=0
    fi
    last=$now
    sleep 0.5
  done
  fail "petrel still appends after the freeze"
}

# drained [remote_name] [seconds]: waits until the endpoint's queue is empty and its sent count
# has not moved for 2 s.
drained() {
  local f=${1:+remote_name=\"$1\"} deadline=$(($(date +%s) + ${2:-60})) last=-1 now stable=0
  while (($(date +%s) < deadline)); do
    now=$(pm prometheus_remote_storage_samples_total "$f")
    if [ "$(pm prometheus_remote_storage_samples_pending "$f")" = 0 ] && [ "$now" = "$last" ]; then
      stable=$((stable + 1))
      ((stable >= 4)) && return 0
    else
      stable=0
    fi
    last=$now
    sleep 0.5
  done
  return 1
}

# caught_up <remote_name> <ms>: the endpoint has sent a sample with timestamp >= ms (the
# watcher reads the WAL in order and the queue keeps per-series order, so the backlog before
# it has been handed to the shards; the final exact comparison checks that it all arrived).
caught_up() {
  local s
  s=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v r="remote_name=\"$1\"" \
    'index($1, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds{") == 1 &&
     index($1, r) { printf "%.0f\n", $2 * 1000 }')
  [ -n "$s" ] && ((s >= $2))
}

# wait_caught_up <remote_name> <ms> <seconds>: prints how long it took (ms) or fails.
wait_caught_up() {
  local start
  start=$(date +%s%3N)
  wait_for "$3" caught_up "$1" "$2" || return 1
  echo $(($(date +%s%3N) - start))
}

# dump_wal [selector]: stops petrel (SIGTERM) and reads its data directory with promtool:
# DUMP_ALL samples, DUMP_STALE of them stale markers (NaN); WAL/dump.txt holds the samples of
# the series the selector matches (all when none; a selector keeps big dumps off the disk).
dump_wal() {
  stop_pid "$PETREL_PID" TERM
  promtool tsdb dump "$WORK/data" 2>"$WORK/dump.err" |
    awk -v out="$WORK/dump.txt" -v all="${1:-}" '/^\{/ { n++; if ($(NF-1) == "NaN") s++; if (all == "") print > out }
      END { print n + 0, s + 0 > "/dev/stderr" }' 2>"$WORK/dump.counts" ||
    { cat "$WORK/dump.err" >&2; fail "promtool tsdb dump failed"; }
  read -r DUMP_ALL DUMP_STALE <"$WORK/dump.counts"
  if [ -n "${1:-}" ]; then
    promtool tsdb dump --match="$1" "$WORK/data" >"$WORK/dump.txt" 2>>"$WORK/dump.err" ||
      fail "promtool tsdb dump --match failed"
  fi
}
