#!/usr/bin/env bash
# Issue 10: a WAL segment corrupted in the middle, then a torn tail, end to end. Petrel's
# documented behaviour (Prometheus's WAL repair, shared/reference/wal-format.md §4): replay stops
# at the first corrupt record, logs the segment and offset, counts
# prometheus_agent_corruptions_total, keeps every record before it, and drops that record, the
# rest of its segment and every later segment. So:
#   1. petrel scrapes with the receiver up, then down (a backlog), and is stopped and started
#      twice more, so the WAL holds segments 0, 1 and 2 (each start opens a new segment);
#   2. 8 bytes in the payload of the middle record of segment 1 are flipped (wal_tool.py knows
#      the record bounds without petrel's reader); petrel restarts: the log names segment
#      00000001 and the offset where the last good record ends, corruptions_total is 1,
#      petrel_wal_repair_dropped_bytes_total is exactly the bytes cut;
#   3. petrel is stopped again and the last record of the newest segment is cut in half (a torn
#      tail); petrel restarts: the same, for that segment and offset;
#   4. the receiver comes back: it gets every sample of the repaired WAL (exact), all of what
#      each repair kept (an independent copy cut at the same offsets, read by promtool), and
#      none of what each repair dropped.
# usage: corrupt_wal_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
source "$(dirname "$0")/common.sh"
faults_setup corrupt-wal
WALTOOL="python3 $FAULTS_DIR/wal_tool.py"
# Stops happen while the receiver is down: a short flush deadline keeps each one quick.
FLUSH=--storage.remote.flush-deadline=100ms

start_farm "$FARM" "$WORK" 4 100
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: 200ms, max_samples_per_send: 500, min_backoff: 50ms, max_backoff: 500ms}"
write_config "$WORK/petrel.yml" "$(farm_jobs 4 500ms)" "$RW"

# run_for <scrapes>: starts petrel, waits until it appended that many more scrapes, stops it.
run_for() {
  run_petrel "$WORK/petrel.yml" "$FLUSH"
  petrel_ready || fail "petrel not ready"
  wait_for 20 pm_gt $(($1 * 4 * 105)) prometheus_agent_samples_appended_total ||
    fail "petrel did not scrape"
  stop_pid "$PETREL_PID" TERM
}

# dump_dir <data dir> <out>: the non-stale samples promtool reads there, sorted.
dump_dir() {
  promtool tsdb dump "$1" 2>"$WORK/dump.err" | awk '/^\{/ && $(NF-1) != "NaN"' | sort >"$2" ||
    { cat "$WORK/dump.err" >&2; fail "promtool tsdb dump $1 failed"; }
}

# expect_repair <segment> <cut offset> <label>: what a repair at that point keeps and drops,
# from a copy of the data directory before the restart: WORK/<label>.kept and .lost.
expect_repair() {
  local seg=$1 cut=$2 copy="$WORK/$3.copy" s
  dump_dir "$copy" "$WORK/$3.before"
  for s in "$copy"/wal/0*; do
    ((10#$(basename "$s") > 10#$seg)) && rm "$s"
  done
  truncate -s "$cut" "$copy/wal/$seg"
  truncate -s $(((cut + 32767) / 32768 * 32768)) "$copy/wal/$seg"
  dump_dir "$copy" "$WORK/$3.kept"
  comm -23 "$WORK/$3.before" "$WORK/$3.kept" >"$WORK/$3.lost"
  [ -s "$WORK/$3.lost" ] || fail "$3: the repair would drop no sample"
}

# check_repair <segment> <offset> <bytes cut> <label>: the restarted petrel said and counted it.
check_repair() {
  grep -Eq "replay found corruption.*cutting $3 bytes at segment $1 offset $2([^0-9]|\$)" \
    "$WORK/petrel.log" ||
    { grep 'corruption' "$WORK/petrel.log" >&2 || true;
      fail "$4: no log line naming segment $1 offset $2 and $3 bytes cut"; }
  [ "$(pm prometheus_agent_corruptions_total)" = 1 ] ||
    fail "$4: prometheus_agent_corruptions_total is $(pm prometheus_agent_corruptions_total), not 1"
  [ "$(pm petrel_wal_repair_dropped_bytes_total)" = "$3" ] ||
    fail "$4: petrel_wal_repair_dropped_bytes_total $(pm petrel_wal_repair_dropped_bytes_total) != $3"
}

seg_size() { stat -c %s "$WORK/data/wal/$1"; }

run_petrel "$WORK/petrel.yml" "$FLUSH"
petrel_ready || fail "petrel not ready"
wait_for 30 acked_gt 1000 central || fail "nothing acknowledged by the receiver"
stop_pid "$RECEIVER_PID" TERM
log "receiver down"
wait_for 20 pm_gt "$(pm prometheus_agent_samples_appended_total)" prometheus_agent_samples_appended_total
stop_pid "$PETREL_PID" TERM
run_for 4
run_for 4
[ -f "$WORK/data/wal/00000002" ] || fail "no segment 00000002: $(ls "$WORK/data/wal")"
log "segments: $(cd "$WORK/data/wal" && for s in 0*; do printf '%s=%dB ' "$s" "$(stat -c %s "$s")"; done)"

# 2. Corruption in the middle of segment 1 (not the last).
cp -a "$WORK/data" "$WORK/middle.copy"
read -r rec_start good_end flipped < <($WALTOOL corrupt "$WORK/data/wal/00000001")
cut_bytes=$(($(seg_size 00000001) - good_end + $(seg_size 00000002)))
log "segment 00000001: flipped 8 bytes at offset $flipped (record at $rec_start; last good record ends at $good_end)"
expect_repair 00000001 "$good_end" middle
run_petrel "$WORK/petrel.yml" "$FLUSH"
petrel_ready || fail "petrel not ready after the corruption"
check_repair 00000001 "$good_end" "$cut_bytes" middle
log "middle: repaired at segment 00000001 offset $good_end, $cut_bytes bytes cut; $(wc -l <"$WORK/middle.lost") samples dropped, $(wc -l <"$WORK/middle.kept") kept"
wait_for 20 pm_gt 1680 prometheus_agent_samples_appended_total || fail "petrel did not scrape"
stop_pid "$PETREL_PID" TERM

# 3. A torn tail: the last record of the newest segment cut in half.
segs=("$WORK"/data/wal/[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
last=$(basename "${segs[-1]}")
cp -a "$WORK/data" "$WORK/torn.copy"
read -r rec_start good_end new_size < <($WALTOOL tear "$WORK/data/wal/$last")
log "segment $last: cut to $new_size bytes, in the record at $rec_start (last good record ends at $good_end)"
expect_repair "$last" "$good_end" torn
mv "$WORK/petrel.log" "$WORK/petrel.middle.log"
run_petrel "$WORK/petrel.yml" "$FLUSH"
petrel_ready || fail "petrel not ready after the torn tail"
check_repair "$last" "$good_end" $((new_size - good_end)) torn
log "torn: repaired at segment $last offset $good_end; $(wc -l <"$WORK/torn.lost") samples dropped"

# 4. Delivery.
start_receiver_at "$WORK/receiver" "$R" || fail "receiver restart"
back=$(date +%s%3N)
took=$(wait_caught_up central "$back" 60) || fail "backlog not sent within 60 s"
log "receiver back; caught up in $took ms"
freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
dump_wal
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R") ||
  { echo "$result"; fail "receiver differs from the repaired WAL"; }
echo "repaired WAL vs receiver: $result"
for what in middle torn; do
  kept=$($SAMPLES compare --dump "$WORK/$what.kept" --prom "$R" --allow-extra) ||
    { echo "$kept"; fail "$what: samples the repair kept are missing at the receiver"; }
  lost=$($SAMPLES compare --dump "$WORK/$what.lost" --prom "$R" --absent) ||
    { echo "$lost"; fail "$what: samples the repair dropped reached the receiver"; }
  log "$what: kept $(jq .expected <<<"$kept") all delivered; dropped $(jq .expected <<<"$lost"), none delivered"
done
log "PASS"
