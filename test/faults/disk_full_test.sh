#!/usr/bin/env bash
# Issue 10: the disk fills up. Petrel's data directory is a small tmpfs the test mounts (root
# only: without permission to mount the test is skipped, exit 77). The receiver goes down, then
# a filler file takes all the space left, so every WAL write fails with ENOSPC. Checked:
#   - scraping goes on (the farm keeps being scraped) and petrel stays up and ready;
#   - the error is loud: prometheus_tsdb_wal_writes_failed_total and
#     petrel_target_scrape_commits_failed_total grow, the log says the WAL write failed and why
#     (no space left on device), the targets page shows the error;
#   - the bound holds: petrel holds no backlog of failed commits (RSS grows < 16 MiB while the
#     disk is full) and the WAL stays readable (a failed write leaves no torn bytes behind);
#   - space returns (filler removed): commits succeed again (and the log says so), the receiver
#     comes back, and every sample in the WAL reaches it (exact set, values included). The
#     scrapes of the full period are the documented loss: never in the WAL, so never sent.
# usage: disk_full_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
source "$(dirname "$0")/common.sh"
faults_setup disk-full

mkdir -p "$WORK/data"
if ! mount -t tmpfs -o size=8m tmpfs "$WORK/data" 2>"$WORK/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for the WAL (needs root / CAP_SYS_ADMIN): $(cat "$WORK/mount.err")"
  exit 77
fi
trap 'stop_all; umount "$WORK/data" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$PETREL_PID/status"; }
farm_requests() { awk '$1 == "requests" { print $2 }' "$WORK/farm.stats"; }

start_farm "$FARM" "$WORK" 4 100
new_receiver "$WORK/receiver"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: central
    queue_config: {batch_send_deadline: 200ms, max_samples_per_send: 500, min_backoff: 50ms, max_backoff: 500ms}"
write_config "$WORK/petrel.yml" "$(farm_jobs 4 1s)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 prom_has "$R" 'up{job="farm"}' || fail "nothing at the receiver"
stop_pid "$RECEIVER_PID" TERM
log "receiver down; WAL on an 8 MiB tmpfs: $(du -sk "$WORK/data" | cut -f1) KiB used"

# Fill the disk: dd stops at ENOSPC.
dd if=/dev/zero of="$WORK/data/filler" bs=64k 2>/dev/null || true
log "disk full: $(df -k --output=avail "$WORK/data" | tail -1 | tr -d ' ') KiB left"
failed0=$(pm prometheus_tsdb_wal_writes_failed_total)
wait_for 20 pm_gt "$((failed0 + 2))" prometheus_tsdb_wal_writes_failed_total ||
  fail "WAL writes do not fail on a full disk"
rss_full0=$(rss_kib)
req0=$(farm_requests)
commits0=$(pm petrel_target_scrape_commits_failed_total)
sleep 5  # the full period itself, not a wait for a condition
req1=$(farm_requests)
commits1=$(pm petrel_target_scrape_commits_failed_total)
rss_full1=$(rss_kib)
curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null || fail "petrel not ready while the disk is full"
log "disk full for 5 s: farm served $((req1 - req0)) scrapes, $((commits1 - commits0)) commits failed, RSS $rss_full0 -> $rss_full1 KiB"
((req1 - req0 >= 12)) || fail "scraping stopped while the disk is full ($((req1 - req0)) scrapes in 5 s)"
((commits1 - commits0 >= 12)) || fail "petrel_target_scrape_commits_failed_total grew only $((commits1 - commits0))"
((rss_full1 - rss_full0 < 16384)) || fail "RSS grew $((rss_full1 - rss_full0)) KiB while the disk was full"
grep -qi 'wal write failed.*no space left on device' "$WORK/petrel.log" ||
  fail "the log does not say that the WAL write failed for lack of space"
curl -sf "http://127.0.0.1:$PORT/api/v1/targets" | grep -i 'no space left on device' >/dev/null ||
  fail "the targets page does not show the WAL error"

rm -f "$WORK/data/filler"
log "space back"
failed_full=$(pm prometheus_tsdb_wal_writes_failed_total)
appended=$(pm prometheus_agent_samples_appended_total)
wait_for 10 pm_gt "$((appended + 800))" prometheus_agent_samples_appended_total ||
  fail "petrel does not append again once space is back"
sleep 2  # two more scrape intervals: the failure count must have stopped
[ "$(pm prometheus_tsdb_wal_writes_failed_total)" = "$failed_full" ] ||
  fail "WAL writes still fail after space came back"
grep -qi 'wal writes succeed again' "$WORK/petrel.log" || fail "the log does not say the WAL recovered"
start_receiver_at "$WORK/receiver" "$R" || fail "receiver restart"
back=$(date +%s%3N)
took=$(wait_caught_up central "$back" 60) || fail "backlog not sent within 60 s"
log "receiver back; caught up in $took ms"
freeze "$WORK/petrel.yml" "$RW"
drained central 60 || fail "not drained after the freeze"
dump_wal
result=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R") ||
  { echo "$result"; fail "receiver differs from the WAL"; }
echo "WAL vs receiver: $result"
log "WAL writes failed: $((failed_full - failed0)); WAL holds $DUMP_ALL samples"
log "PASS"
