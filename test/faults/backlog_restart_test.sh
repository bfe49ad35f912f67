#!/usr/bin/env bash
# Issue 4 acceptance 4 and issue 5 acceptance 2 (restart variant): the receiver goes down while
# petrel scrapes; petrel is stopped during the outage (SIGTERM, or SIGKILL with "kill") and
# restarted; then the receiver comes back. Delivery resumes from the persisted position:
#   - none lost: every sample in petrel's WAL is at the receiver (exact set, with values);
#   - none sent twice: the samples the endpoint had acknowledged, summed over both runs
#     (prometheus_remote_storage_samples_total minus retried minus failed; read just before the
#     stop, while the receiver is down so the count is frozen), equal the WAL's samples
#     (stale markers included, since they are sent too). A resend of acknowledged data, or a
#     restart "from now", breaks the equality.
# usage: backlog_restart_test.sh <petrel> <lib.sh> <petrel-farm> [term|kill] [outage_s=15]
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
MODE=${4:-term}
OUTAGE=${5:-15}
source "$(dirname "$0")/common.sh"
faults_setup "backlog-$MODE"

start_farm "$FARM" "$WORK" 10 200
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: 200ms, max_samples_per_send: 1000, min_backoff: 100ms, max_backoff: 1s}"
write_config "$WORK/petrel.yml" "$(farm_jobs 10 500ms)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 prom_has "$R" 'up{job="farm"}' || fail "nothing at the receiver"
stop_pid "$RECEIVER_PID" TERM
log "receiver down"
# Half the outage with the first petrel, half with the second.
sleep $((OUTAGE / 2))  # the outage itself, not a wait for a condition
acked1=$(acked central)
pending=$(pm prometheus_remote_storage_samples_pending central)
if [ "$MODE" = kill ]; then
  kill -KILL "$PETREL_PID"
  wait "$PETREL_PID" 2>/dev/null || true
  forget_pid "$PETREL_PID"
else
  stop_pid "$PETREL_PID" TERM
fi
log "first petrel stopped ($MODE): $acked1 samples acknowledged, $pending pending"
cat "$WORK/data/remote_write/"*.progress 2>/dev/null | sed 's/^/  progress file: /' || true
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready after restart"
sleep $((OUTAGE - OUTAGE / 2))
start_receiver_at "$WORK/receiver" "$R" || fail "receiver restart"
back=$(date +%s%3N)
log "receiver back"
took=$(wait_caught_up central "$back" 120) || fail "backlog not sent within 120 s"
log "caught up $took ms after the receiver came back"
freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
acked2=$(acked central)
dump_wal
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R") ||
  { echo "$result"; fail "receiver differs from the WAL"; }
echo "WAL vs receiver: $result"
log "acknowledged: first run $acked1 + second run $acked2 = $((acked1 + acked2)); WAL holds $DUMP_ALL samples ($DUMP_STALE stale markers)"
((acked1 + acked2 == DUMP_ALL)) ||
  fail "acknowledged $((acked1 + acked2)) != WAL $DUMP_ALL: $((acked1 + acked2 - DUMP_ALL)) sent twice (negative: never sent)"
log "PASS"
