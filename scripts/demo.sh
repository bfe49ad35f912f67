#!/usr/bin/env bash
# The demo: installs what it needs, builds Petrel, starts a Prometheus receiver (remote-write
# receiver enabled) and a node_exporter on free 127.0.0.1 ports, runs Petrel against them,
# prints what the receiver got from Petrel, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
bash scripts/install-deps.sh
bash scripts/build.sh >/dev/null
source scripts/lib.sh

WORK=$(mktemp -d /tmp/petrel-demo.XXXXXX)
trap 'stop_all; rm -rf "$WORK"' EXIT

start_receiver "$WORK"
start_node_exporter "$WORK"
PORT=$(free_port)
cat >"$WORK/petrel.yml" <<YAML
global:
  scrape_interval: 5s
  external_labels:
    cluster: demo
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:$NODE_PORT"]
  - job_name: petrel
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
remote_write:
  - url: http://127.0.0.1:$RECEIVER_PORT/api/v1/write
    queue_config:
      batch_send_deadline: 1s
YAML
echo "demo: receiver (Prometheus) on 127.0.0.1:$RECEIVER_PORT, node_exporter on 127.0.0.1:$NODE_PORT"
start_petrel "$ROOT/build/agent/petrel" "$WORK" "$WORK/petrel.yml" "$PORT"
echo "demo: petrel on 127.0.0.1:$PORT, WAL in $WORK/data; waiting for samples to arrive..."

if ! wait_for 60 prom_has "$RECEIVER_PORT" 'count(up{cluster="demo"} == 1) == 2'; then
  echo "demo: no samples from petrel reached the receiver within 60 s; petrel log:" >&2
  tail -50 "$WORK/petrel.log" >&2
  exit 1
fi
# Let one more scrape land so there is more than one sample per series.
wait_for 30 prom_has "$RECEIVER_PORT" 'max(count_over_time(up{cluster="demo"}[5m])) >= 2' || true

series=$(prom_value "$RECEIVER_PORT" 'count({cluster="demo"})')
# The receiver scrapes nothing itself, so every sample its head appended came from petrel.
samples=$(curl -sf "http://127.0.0.1:$RECEIVER_PORT/metrics" |
  awk '/^prometheus_tsdb_head_samples_appended_total/ {n += $2} END {printf "%d", n}')
echo
echo "The receiver holds ${series} series and ${samples} samples from petrel."
echo
echo "Query: up{cluster=\"demo\"}"
prom_query "$RECEIVER_PORT" 'up{cluster="demo"}' |
  jq -r '.data.result[] | "  up{job=\"\(.metric.job)\", instance=\"\(.metric.instance)\", cluster=\"\(.metric.cluster)\"} = \(.value[1])"'
echo "Query: node_load1{cluster=\"demo\"}"
prom_query "$RECEIVER_PORT" 'node_load1{cluster="demo"}' |
  jq -r '.data.result[] | "  \(.metric.__name__){instance=\"\(.metric.instance)\"} = \(.value[1])"'
[ "${samples:-0}" -gt 0 ]
