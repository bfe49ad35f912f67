#!/usr/bin/env bash
# Issue 5, acceptance 1: two remote-write endpoints at once, real receivers from Debian:
# Prometheus 2.42 (remote-write receiver) with write_relabel_configs dropping one metric family
# and a tenant header, and VictoriaMetrics with everything. After a run (scraping stopped by a
# reload, both queues drained):
#   - the samples the target served (petrel-farm's own count) equal the farm samples in petrel's
#     WAL, and
#   - each receiver holds exactly the WAL's samples (exact set with values; VictoriaMetrics keeps
#     duplicates, so none may be there), minus exactly the dropped family at Prometheus.
# usage: two_endpoints_test.sh <petrel> <lib.sh> <petrel-farm> [seconds=30]
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
RUN=${4:-30}
source "$(dirname "$0")/common.sh"
command -v victoria-metrics >/dev/null || { echo "missing victoria-metrics (scripts/install-deps.sh)"; exit 1; }
faults_setup two-endpoints
DROP=node_disk_io_time_seconds_total

start_farm "$FARM" "$WORK" 5 300
new_receiver "$WORK/receiver"
start_victoria_metrics "$WORK" || fail "victoria-metrics"
RW="remote_write:
  - url: http://127.0.0.1:$R/api/v1/write
    name: prom
    headers: {X-Scope-OrgID: tenant-a}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: $DROP
        action: drop
    queue_config: {batch_send_deadline: 200ms}
  - url: http://127.0.0.1:$VM_PORT/api/v1/write
    name: vm
    queue_config: {batch_send_deadline: 200ms}"
write_config "$WORK/petrel.yml" "$(farm_jobs 5 1s)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 prom_has "$R" 'up{job="farm"}' || fail "nothing at Prometheus"
log "scraping for $RUN s"
sleep "$RUN"  # the run length, not a wait for a condition
freeze "$WORK/petrel.yml" "$RW"
drained prom 60 || fail "prom endpoint not drained"
drained vm 60 || fail "vm endpoint not drained"
dropped=$(pm prometheus_remote_storage_samples_dropped_total 'remote_name="prom".*reason="dropped_series"')
served=$(awk '/^samples/ {print $2}' "$WORK/farm.stats")
dump_wal
in_wal=$($SAMPLES dump --dump "$WORK/dump.txt" --drop-name 'up|scrape_.*')
log "farm served $served samples; the WAL holds $in_wal of the farm's series ($DUMP_ALL samples in all)"
((served == in_wal)) || fail "the farm served $served samples, the WAL holds $in_wal"
p=$($SAMPLES compare --dump "$WORK/dump.txt" --prom "$R" --drop-name "$DROP") ||
  { echo "$p"; fail "Prometheus differs from the WAL minus $DROP"; }
echo "WAL minus $DROP vs Prometheus: $p"
v=$($SAMPLES compare --dump "$WORK/dump.txt" --vm "$VM_PORT") ||
  { echo "$v"; fail "VictoriaMetrics differs from the WAL"; }
echo "WAL vs VictoriaMetrics: $v"
n_drop=$(grep -c "^{__name__=\"$DROP\".* [0-9.e+-]* [0-9]*$" "$WORK/dump.txt" || true)
[ "$(jq .received <<<"$v")" -eq "$(( $(jq .received <<<"$p") + n_drop ))" ] ||
  fail "VictoriaMetrics minus Prometheus is not the $n_drop samples of $DROP"
log "dropped at prom: $n_drop samples of $DROP (petrel counted $dropped samples dropped by relabelling)"
((n_drop > 0)) || fail "no $DROP samples: the relabel rule was not tested"
log "PASS"
