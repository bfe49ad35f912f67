#!/usr/bin/env bash
# Issue 4, acceptance 2: crash loop. Petrel scrapes a petrel-farm (exactly countable samples)
# and remote-writes to a real Prometheus; it is killed with SIGKILL at a random moment (from
# just after exec, through replay, to steady state), restarted at once, ITERATIONS times.
# Finally it runs clean, stops scraping (reload without jobs), drains and stops; then:
#   every sample in the WAL petrel replays (promtool tsdb dump of its data directory: the
#   samples scraped before each kill, see common.sh) is at the receiver, with its value, and
#   the receiver holds nothing else.
# usage: crash_loop_test.sh <petrel> <lib.sh> <petrel-farm> [iterations=10] [seed=random]
# The load: TARGETS (20) farm targets x SERIES (200) series every 500 ms; the queue sends at
# BATCH_DEADLINE (200ms) or MAX_PER_SEND (2000) samples. A long deadline with small scrapes
# makes one batch span many scrapes (the resend-after-kill case; see the report in the log).
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
ITERATIONS=${4:-10}
SEED=${5:-$(( $(date +%s) % 100000 ))}
source "$(dirname "$0")/common.sh"
faults_setup crashloop
RANDOM=$SEED
echo "crash loop: $ITERATIONS iterations, seed $SEED (rerun: $0 ... $ITERATIONS $SEED)"

TARGETS=${TARGETS:-20} SERIES=${SERIES:-200}
start_farm "$FARM" "$WORK" "$TARGETS" "$SERIES"
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: ${BATCH_DEADLINE:-200ms}, max_samples_per_send: ${MAX_PER_SEND:-2000}}"
write_config "$WORK/petrel.yml" "$(farm_jobs "$TARGETS" 500ms)" "$RW"

kills_before_ready=0
for ((i = 1; i <= ITERATIONS; i++)); do
  delay_ms=$((RANDOM % 5000))  # 0 .. 5 s after exec
  # Petrel is ready within ~50 ms, so every 5th kill aims at startup and WAL replay.
  ((i % 5 == 0)) && delay_ms=$((RANDOM % 60))
  readies=$(grep -c "Server is ready" "$WORK/petrel.log" 2>/dev/null || true)
  run_petrel "$WORK/petrel.yml"
  if ((delay_ms < 1000)); then
    sleep "$(printf '0.%03d' "$delay_ms")"
  else
    start_ms=$(date +%s%3N)
    while (($(date +%s%3N) - start_ms < delay_ms)); do
      kill -0 "$PETREL_PID" 2>/dev/null || fail "petrel exited by itself in iteration $i"
      sleep 0.05
    done
  fi
  kill -KILL "$PETREL_PID" || fail "petrel exited by itself in iteration $i"
  wait "$PETREL_PID" 2>/dev/null || true
  forget_pid "$PETREL_PID"
  (($(grep -c "Server is ready" "$WORK/petrel.log" || true) == readies)) &&
    kills_before_ready=$((kills_before_ready + 1))
  echo "  iteration $i: killed after ${delay_ms} ms"
done

run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready after the loop"
wait_for 30 pm_gt $((TARGETS * SERIES * 4)) prometheus_agent_samples_appended_total || fail "not scraping"
freeze "$WORK/petrel.yml" "$RW"
drained central 120 || fail "not drained within 120 s"
corruptions=$(pm prometheus_agent_corruptions_total)
dump_wal
log "$kills_before_ready of $ITERATIONS kills before /-/ready; WAL: $DUMP_ALL samples ($DUMP_STALE stale markers); corruptions counted in the last run: $corruptions"
grep -iE "corrupt|torn|truncat" "$WORK/petrel.log" | grep -v "level=debug" | tail -5 || true
rejected=$(grep -c "out of order" "$WORK/petrel.log" || true)
log "batches the receiver rejected as out of order (resends after a kill): $rejected"
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R") || { echo "$result"; fail "receiver differs from the WAL"; }
echo "$result"
log "PASS: every sample scraped before each of $ITERATIONS kills reached the receiver"
