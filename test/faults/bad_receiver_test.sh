#!/usr/bin/env bash
# Issue 10: a receiver that misbehaves, end to end. fault_proxy.py sits between petrel and a real
# Prometheus receiver and gives the first new batches, in turn: 500, 429 with Retry-After, 400,
# a response slower than remote_timeout, a connection reset, a truncated body, a truncated status
# line, and a second 400 (with plain forwarded batches between them). The 400'd batches go to a
# second Prometheus (the "refused" receiver) instead, so the documented loss is known exactly.
# Then petrel is frozen (no more scrapes), drained and stopped, and:
#   - the samples missing at the receiver are exactly the refused batches' samples, nothing else
#     (every other sample of petrel's WAL arrived, with its value; nothing invented);
#   - prometheus_remote_storage_samples_failed_total equals the refused samples;
#   - prometheus_remote_storage_samples_retried_total > 0, and every other faulted batch was sent
#     again (seen again by the proxy), while no refused batch was ever sent again;
#   - the 429'd batch came back no sooner than its Retry-After (2 s; max_backoff is 200 ms);
#   - acknowledged + failed == the WAL's samples: nothing acknowledged was sent twice;
#   - the 400 is logged as a dropped batch.
# usage: bad_receiver_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
source "$(dirname "$0")/common.sh"
faults_setup bad-receiver

SCHEDULE=500,ok,429,ok,400,ok,slow,ok,reset,ok,truncate,ok,truncate_head,ok,400,ok
RETRY_AFTER=2

start_farm "$FARM" "$WORK" 4 50
new_receiver "$WORK/refused"
REFUSED=$R
new_receiver "$WORK/receiver"
start_bg "$WORK/proxy.log" python3 "$FAULTS_DIR/fault_proxy.py" "$WORK/proxy.port" \
  "$WORK/proxy.jsonl" "http://127.0.0.1:$R/api/v1/write" \
  "http://127.0.0.1:$REFUSED/api/v1/write" "$SCHEDULE" --slow 2.5 --retry-after "$RETRY_AFTER"
wait_for 20 test -s "$WORK/proxy.port" || fail "fault proxy did not start: $(cat "$WORK/proxy.log")"
PROXY=$(cat "$WORK/proxy.port")
# One shard, so the faults hit the batches one after another; remote_timeout 1s < the slow
# answer (2.5 s); max_backoff 200ms < Retry-After, so honouring it is visible.
RW="remote_write:
  - url: http://127.0.0.1:$PROXY/api/v1/write
    name: central
    remote_timeout: 1s
    metadata_config: {send: false}
    queue_config: {min_shards: 1, max_shards: 1, max_samples_per_send: 100,
                   batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 200ms,
                   retry_on_http_429: true}"
write_config "$WORK/petrel.yml" "$(farm_jobs 4 1s)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"

faults=$(tr ',' '\n' <<<"$SCHEDULE" | grep -cv '^ok$')
schedule_used() {
  (($(jq -s '[.[] | select(.first)] | length' "$WORK/proxy.jsonl") >= $(tr ',' '\n' <<<"$SCHEDULE" | wc -l)))
}
wait_for 40 schedule_used || fail "the proxy did not see $(tr ',' '\n' <<<"$SCHEDULE" | wc -l) batches"
log "every fault of the schedule was applied ($faults faults)"
# The faulted batches are retried (except the 400s); wait until every one was sent again.
retried_all() {
  jq -se '[group_by(.sha1)[] | select(.[0].first and (.[0].mode | IN("ok", "400") | not))
           | select(length < 2)] | length == 0' "$WORK/proxy.jsonl"
}
wait_for 30 retried_all || fail "some faulted batch was never sent again: $(cat "$WORK/proxy.jsonl")"
freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
acked=$(acked central)
failed=$(pm prometheus_remote_storage_samples_failed_total 'remote_name="central"')
retried=$(pm prometheus_remote_storage_samples_retried_total 'remote_name="central"')
dump_wal
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R" --refused-prom "$REFUSED") ||
  { echo "$result"; fail "receiver differs from the WAL beyond the refused batches"; }
echo "WAL vs receiver: $result"
refused=$(jq -r .refused <<<"$result")
log "metrics: samples_failed_total $failed, samples_retried_total $retried, acknowledged $acked; refused receiver holds $refused samples; WAL $DUMP_ALL ($DUMP_STALE stale)"
((refused > 0)) || fail "the refused receiver holds nothing: the 400s hit no samples"
((failed == refused)) || fail "samples_failed_total $failed != $refused samples in the refused batches"
((retried > 0)) || fail "samples_retried_total is 0"
((acked + failed == DUMP_ALL)) ||
  fail "acknowledged $acked + failed $failed != WAL $DUMP_ALL: $((acked + failed - DUMP_ALL)) sent twice (negative: never sent)"

# Per batch, from the proxy's log: no 400'd batch came again; the 429'd one no sooner than its
# Retry-After.
resent_400=$(jq -s '[group_by(.sha1)[] | select(.[0].mode == "400" and length > 1)] | length' \
  "$WORK/proxy.jsonl")
((resent_400 == 0)) || fail "$resent_400 refused (400) batches were sent again"
gap=$(jq -s '[group_by(.sha1)[] | select(.[0].mode == "429") | .[1].t - .[0].t] | min' \
  "$WORK/proxy.jsonl")
log "the 429'd batch came again after ${gap} s (Retry-After: $RETRY_AFTER)"
awk -v g="$gap" -v r="$RETRY_AFTER" 'BEGIN { exit !(g >= r - 0.05) }' ||
  fail "the 429'd batch came again after $gap s, before its Retry-After of $RETRY_AFTER s"
grep -q 'non-recoverable error, dropping batch.*HTTP status 400' "$WORK/petrel.log" ||
  fail "no log line for the dropped 400 batch"
grep -c 'Failed to send batch, retrying' "$WORK/petrel.log" | sed 's/^/retry log lines: /'
jq -rs 'group_by(.mode)[] | "  proxy: \(.[0].mode): \(length) requests"' "$WORK/proxy.jsonl"
log "PASS"
