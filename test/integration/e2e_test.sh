#!/usr/bin/env bash
# Static targets -> petrel -> WAL -> remote write -> a real Prometheus receiver.
# Checks (issue 2, acceptance 2 and 3): within 30 s the receiver has up==1 for every static
# target and node_exporter series with job, instance and the external labels; petrel's own
# endpoints answer; after shutdown `promtool tsdb dump` reads petrel's data directory.
set -euo pipefail
PETREL=$1
source "$2"
for tool in prometheus prometheus-node-exporter promtool curl jq; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/petrel-e2e.XXXXXX)
trap 'stop_all; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- petrel log" >&2; tail -40 "$WORK/petrel.log" >&2 || true; exit 1; }

start_receiver "$WORK"
start_node_exporter "$WORK"
PORT=$(free_port)
cat >"$WORK/petrel.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  external_labels:
    cluster: edge-1
    env: ci
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:$NODE_PORT"]
        labels:
          rack: r1
  - job_name: receiver
    static_configs:
      - targets: ["127.0.0.1:$RECEIVER_PORT"]
  - job_name: petrel
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
remote_write:
  - url: http://127.0.0.1:$RECEIVER_PORT/api/v1/write
    name: central
    queue_config:
      batch_send_deadline: 500ms
    metadata_config:
      send_interval: 1s
YAML
start_petrel "$PETREL" "$WORK" "$WORK/petrel.yml" "$PORT"
START=$(date +%s)

# Petrel's own endpoints.
[ "$(curl -s "http://127.0.0.1:$PORT/-/healthy")" = "Prometheus Agent is Healthy." ] ||
  fail "/-/healthy"
curl -sf "http://127.0.0.1:$PORT/-/ready" | grep "Ready" >/dev/null || fail "/-/ready"

for job in node receiver petrel; do
  q="up{job=\"$job\",cluster=\"edge-1\",env=\"ci\"} == 1"
  wait_for 30 prom_has "$RECEIVER_PORT" "$q" || fail "no $q at the receiver"
done
echo "up==1 for all three static targets after $(( $(date +%s) - START )) s"

q="node_cpu_seconds_total{job=\"node\",instance=\"127.0.0.1:$NODE_PORT\",rack=\"r1\",cluster=\"edge-1\",env=\"ci\"}"
wait_for 30 prom_has "$RECEIVER_PORT" "count($q)" || fail "no $q at the receiver"
echo "node_exporter series arrive with job, instance, target and external labels: $(prom_value "$RECEIVER_PORT" "count($q)") series of node_cpu_seconds_total"

for m in scrape_duration_seconds scrape_samples_scraped; do
  [ -n "$(prom_value "$RECEIVER_PORT" "$m{job=\"node\"}")" ] || fail "no $m"
done
n=$(prom_value "$RECEIVER_PORT" 'scrape_samples_scraped{job="node"}')
[ "${n%.*}" -gt 100 ] || fail "scrape_samples_scraped{job=\"node\"} is $n"

# Self-metrics with Prometheus names, scraped from petrel and sent through itself.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/self.txt"
for m in prometheus_remote_storage_samples_total prometheus_agent_active_series \
         prometheus_tsdb_wal_segment_current process_resident_memory_bytes; do
  grep -q "^$m" "$WORK/self.txt" || fail "/metrics lacks $m"
done
sent=$(awk '/^prometheus_remote_storage_samples_total/ {print $2}' "$WORK/self.txt" | head -1)
[ "${sent%.*}" -gt 0 ] || fail "prometheus_remote_storage_samples_total is $sent"
# Metadata (TYPE/HELP/UNIT of the scraped families) goes out every send_interval.
metadata_sent() {
  curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk '/^prometheus_remote_storage_metadata_total/ {s += $NF} END {exit !(s > 0)}'
}
wait_for 20 metadata_sent || fail "no metadata sent (prometheus_remote_storage_metadata_total)"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep '^prometheus_remote_storage_metadata_failed_total{.*} 0$' >/dev/null ||
  fail "metadata requests failed at the receiver"
echo "metadata sent: $(curl -sf "http://127.0.0.1:$PORT/metrics" | grep '^prometheus_remote_storage_metadata_total')"

# Graceful shutdown, then promtool reads the data directory petrel wrote.
kill -TERM "$PETREL_PID"
for _ in $(seq 1 100); do kill -0 "$PETREL_PID" 2>/dev/null || break; sleep 0.2; done
kill -0 "$PETREL_PID" 2>/dev/null && fail "petrel did not exit within 20 s of SIGTERM"
wait "$PETREL_PID" || fail "petrel exited with status $?"
ls "$WORK/data/wal" | grep -E '^[0-9]{8}$' >/dev/null || fail "no WAL segments in $WORK/data/wal"

promtool tsdb dump "$WORK/data" >"$WORK/dump.txt" 2>"$WORK/dump.err" ||
  { cat "$WORK/dump.err" >&2; fail "promtool tsdb dump failed"; }
grep -q "__name__=\"node_cpu_seconds_total\".*instance=\"127.0.0.1:$NODE_PORT\".*job=\"node\"" "$WORK/dump.txt" ||
  fail "promtool dump lacks node_cpu_seconds_total: $(head -3 "$WORK/dump.txt")"
grep -q '^{__name__="up",.*job="receiver"} 1 ' "$WORK/dump.txt" || fail "promtool dump lacks up{job=receiver} 1"
echo "promtool tsdb dump read $(wc -l <"$WORK/dump.txt") samples from petrel's WAL"
echo "PASS"
