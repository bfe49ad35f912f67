#!/usr/bin/env bash
# Issue 5, acceptance 2: the receiver (Prometheus 2.42, which rejects out-of-order samples) is
# stopped for OUTAGE seconds while petrel keeps scraping, then restarted on the same port and
# data directory. Checks:
#   - 0 lost: every sample in petrel's WAL is at the receiver (exact set, with values), and
#     the receiver holds nothing else;
#   - order kept: the receiver counted 0 out-of-order samples
#     (prometheus_tsdb_out_of_order_samples_total) and petrel 0 failed (non-retryable) samples;
#   - drained within 60 s: within 60 s of the receiver being ready petrel has sent a sample
#     scraped after that moment (the WAL is read in order, so the backlog went before it).
# usage: outage_test.sh <petrel> <lib.sh> <petrel-farm> [outage_s=120]
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
OUTAGE=${4:-120}
source "$(dirname "$0")/common.sh"
faults_setup outage

start_farm "$FARM" "$WORK" 10 200
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: 500ms, min_backoff: 100ms, max_backoff: 5s}"
write_config "$WORK/petrel.yml" "$(farm_jobs 10 1s)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 prom_has "$R" 'up{job="farm"}' || fail "nothing at the receiver"
stop_pid "$RECEIVER_PID" TERM
down=$(date +%s)
log "receiver down for $OUTAGE s"
while (($(date +%s) - down < OUTAGE)); do
  kill -0 "$PETREL_PID" || fail "petrel died during the outage"
  sleep 1
done
backlog=$(pm prometheus_remote_storage_samples_pending central)
start_receiver_at "$WORK/receiver" "$R" || fail "receiver restart"
back_ms=$(date +%s%3N)
log "receiver back ($backlog samples pending in petrel's queues; the rest of the backlog is in the WAL)"
drained_ms=$(wait_caught_up central "$back_ms" 60) ||
  fail "backlog not drained within 60 s of the receiver coming back"
log "drained $drained_ms ms after the receiver came back"
freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
failed=$(pm prometheus_remote_storage_samples_failed_total central)
retried=$(pm prometheus_remote_storage_samples_retried_total central)
ooo=$(metric_sum "$R" prometheus_tsdb_out_of_order_samples_total)
dump_wal
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R") ||
  { echo "$result"; fail "receiver differs from the WAL"; }
echo "WAL vs receiver: $result"
log "receiver out-of-order samples: $ooo; petrel failed samples: $failed, retried: $retried"
((ooo == 0)) || fail "the receiver rejected $ooo out-of-order samples"
((failed == 0)) || fail "petrel counted $failed failed samples"
log "PASS"
