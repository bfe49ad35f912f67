#!/usr/bin/env bash
# Issue 10: bad targets next to good ones, with a real receiver. bad_targets.py serves a target
# that hangs (accepts, never answers), one that sends garbage, one that sends 100 MiB
# (body_size_limit 10MiB), one that changes every series name on every scrape above
# sample_limit (2000 series, limit 1000) and one that does so below it (500 series). Two
# petrel-farm targets are the good ones. All scraped every second for ~15 s. Checked:
#   - the good targets lose nothing: up is 1 on every scrape, no scrape missed (no gap of 2 s or
#     more between their up samples), and the receiver holds exactly what the WAL holds;
#   - each bad target gets the right up (0, and 1 for the churn under the limit) and the right
#     error on /api/v1/targets, and the limit counters move;
#   - petrel's memory stays bounded: peak RSS (VmHWM in /proc/<pid>/status) under 96 MiB, less
#     than the 100 MiB the huge target offers on each scrape, while the churn makes 500 new
#     series a second.
# usage: bad_targets_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
source "$(dirname "$0")/common.sh"
faults_setup bad-targets
MAX_HWM_KIB=$((96 * 1024))  # below the 100 MiB one scrape of /huge offers

start_farm "$FARM" "$WORK" 2 100
start_bg "$WORK/bad.log" python3 "$FAULTS_DIR/bad_targets.py" "$WORK/bad.port" "$WORK/bad.json"
wait_for 20 test -s "$WORK/bad.port" || fail "bad_targets.py did not start: $(cat "$WORK/bad.log")"
BAD=$(cat "$WORK/bad.port")
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: 200ms, max_samples_per_send: 2000}"
target() { printf '      - targets: ["127.0.0.1:%s"]\n        labels: {t: %s, __metrics_path__: %s}\n' "$BAD" "$1" "$2"; }
SCRAPE="$(farm_jobs 2 1s)
  - job_name: bad
    scrape_interval: 1s
    scrape_timeout: 900ms
    body_size_limit: 10MiB
    sample_limit: 1000
    static_configs:
$(target hang /hang)
$(target garbage /garbage)
$(target huge /huge)
$(target churn_over /churn/2000)
$(target churn_under /churn/500)"
write_config "$WORK/petrel.yml" "$SCRAPE" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 prom_has "$R" 'up{job="bad",t="churn_under"}' || fail "nothing at the receiver"
rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PETREL_PID/status")
log "petrel up; RSS $rss0 KiB"
huge_seen() { (($(jq '.requests.huge // 0' "$WORK/bad.json") >= $1)); }
wait_for 30 huge_seen 10 || fail "the huge target was scraped less than 10 times"
kill -0 "$PETREL_PID" || fail "petrel died"
read -r rss hwm < <(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' \
  "/proc/$PETREL_PID/status")
log "after $(jq -c .requests "$WORK/bad.json") bad scrapes ($(jq .huge_bytes_sent "$WORK/bad.json") bytes of /huge written before petrel cut it): RSS $rss KiB, peak (VmHWM) $hwm KiB"
((hwm < MAX_HWM_KIB)) || fail "peak RSS $hwm KiB >= $MAX_HWM_KIB KiB"

# Health and errors, as /api/v1/targets shows them.
curl -sf "http://127.0.0.1:$PORT/api/v1/targets" >"$WORK/targets.json"
expect_target() {
  local t=$1 health=$2 err=$3 got
  got=$(jq -r --arg t "$t" '.data.activeTargets[] | select(.labels.t == $t) |
    "\(.health)\t\(.lastError)"' "$WORK/targets.json")
  log "  target $t: $got"
  [ "${got%%$'\t'*}" = "$health" ] || fail "target $t: health '${got%%$'\t'*}', want $health"
  grep -Eqi -- "$err" <<<"${got#*$'\t'}" || fail "target $t: error '${got#*$'\t'}' does not match /$err/"
}
expect_target hang down 'timeout|timed out|deadline'
expect_target garbage down 'parse|expected|invalid|unexpected'
expect_target huge down 'body size limit'
expect_target churn_over down 'sample_limit exceeded'
expect_target churn_under up '^$'
for t in 0 1; do expect_target "$t" up '^$'; done
(($(pm prometheus_target_scrapes_exceeded_body_size_limit_total) > 0)) ||
  fail "prometheus_target_scrapes_exceeded_body_size_limit_total is 0"
(($(pm prometheus_target_scrapes_exceeded_sample_limit_total) > 0)) ||
  fail "prometheus_target_scrapes_exceeded_sample_limit_total is 0"

freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
dump_wal
# up per target from the WAL: the good ones 1 on every scrape and no scrape missed; the bad ones
# 0 on every scrape (churn_under 1).
awk '/^\{/ && /__name__="up"/ && $(NF-1) != "NaN" {
       match($0, /job="[^"]*"/); job = substr($0, RSTART + 5, RLENGTH - 6)
       match($0, /[{ ]t="[^"]*"/); t = substr($0, RSTART + 4, RLENGTH - 5)
       print job, t, $(NF-1), $NF }' "$WORK/dump.txt" | sort -k1,2 -k4n >"$WORK/up.txt"
awk '{ k = $1 "/" $2; n[k]++; if (!(k in lo) || $3 < lo[k]) lo[k] = $3; if ($3 > hi[k]) hi[k] = $3
       if (k in last && $4 - last[k] > gap[k]) gap[k] = $4 - last[k]; last[k] = $4 }
     END { for (k in n) printf "%s scrapes=%d up_min=%d up_max=%d max_gap_ms=%d\n", k, n[k], lo[k], hi[k], gap[k] }' \
  "$WORK/up.txt" | sort >"$WORK/up.summary"
sed 's/^/  /' "$WORK/up.summary"
check_up() {
  grep -Eq "^$1 scrapes=[0-9]+ up_min=$2 up_max=$3 " "$WORK/up.summary" ||
    fail "$1: up not always $2..$3: $(grep "^$1 " "$WORK/up.summary")"
}
for t in 0 1; do
  check_up "farm/$t" 1 1
  gap=$(sed -n "s|^farm/$t .*max_gap_ms=\([0-9]*\)|\1|p" "$WORK/up.summary")
  ((gap < 2000)) || fail "farm target $t missed a scrape: a gap of $gap ms between its up samples"
done
for t in hang garbage huge churn_over; do check_up "bad/$t" 0 0; done
check_up bad/churn_under 1 1
for job in farm bad; do
  result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R" --job "$job") ||
    { echo "$result"; fail "job $job: receiver differs from the WAL"; }
  echo "job $job: WAL vs receiver: $result"
done
log "PASS"
