#!/usr/bin/env bash
# Issue 11, acceptance 1: a target serving a native histogram in the protobuf exposition format
# -> petrel (scrape_native_histograms) -> WAL -> remote write (send_native_histograms) -> Debian's
# Prometheus 2.42 with --enable-feature=native-histograms. histogram_quantile(0.9, ...) at the
# receiver must equal the value the test computes from the served buckets; the target must have
# been asked for protobuf first; the histogram must stay one series (no _bucket series).
set -euo pipefail
PETREL=$1
source "$2"
TARGET_PY=$(dirname "$0")/native_histogram_target.py
for tool in prometheus curl jq python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/petrel-nh-e2e.XXXXXX)
trap 'stop_all; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
fail() {
  echo "FAIL: $*" >&2
  echo "--- petrel log" >&2; tail -40 "$WORK/petrel.log" >&2 || true
  echo "--- receiver log" >&2; tail -20 "$WORK/receiver/log" >&2 || true
  exit 1
}

RECEIVER_PORT=$(free_port)
start_receiver_at "$WORK/receiver" "$RECEIVER_PORT" \
  --enable-feature=native-histograms,exemplar-storage ||
  fail "receiver did not start"

start_bg "$WORK/target.out" python3 "$TARGET_PY" "$WORK/target.port" "$WORK/accept.log"
wait_for 20 test -s "$WORK/target.port" || fail "the target did not start"
TARGET_PORT=$(cat "$WORK/target.port")
EXPECTED=$(head -1 "$WORK/target.out")

PORT=$(free_port)
cat >"$WORK/petrel.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    scrape_native_histograms: true
    static_configs:
      - targets: ["127.0.0.1:$TARGET_PORT"]
remote_write:
  - url: http://127.0.0.1:$RECEIVER_PORT/api/v1/write
    send_native_histograms: true
    send_exemplars: true
    queue_config:
      batch_send_deadline: 500ms
YAML
start_petrel "$PETREL" "$WORK" "$WORK/petrel.yml" "$PORT" || fail "petrel did not start"

wait_for 20 test -s "$WORK/accept.log" || fail "petrel never scraped the target"
accept=$(head -1 "$WORK/accept.log")
case "$accept" in
  "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"*) ;;
  *) fail "Accept header does not ask for protobuf first: $accept" ;;
esac

sel='request_duration_seconds{job="app",path="/api"}'
q="histogram_quantile(0.9, $sel)"
wait_for 30 prom_has "$RECEIVER_PORT" "$q" || fail "no $q at the receiver"
got=$(prom_value "$RECEIVER_PORT" "$q")
python3 - "$got" "$EXPECTED" <<'PY' || fail "histogram_quantile(0.9) is $got, expected $EXPECTED"
import sys
got, want = float(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if abs(got - want) <= 1e-9 * max(1.0, abs(want)) else 1)
PY
echo "histogram_quantile(0.9) at the receiver: $got (computed from the served buckets: $EXPECTED)"

# The whole histogram arrived as one native series: count and sum match what was served.
[ "$(prom_value "$RECEIVER_PORT" "histogram_count($sel)")" = "28" ] ||
  fail "histogram_count is $(prom_value "$RECEIVER_PORT" "histogram_count($sel)")"
[ "$(prom_value "$RECEIVER_PORT" "histogram_sum($sel)")" = "150.5" ] ||
  fail "histogram_sum is $(prom_value "$RECEIVER_PORT" "histogram_sum($sel)")"
[ -z "$(prom_value "$RECEIVER_PORT" 'count({__name__="request_duration_seconds_bucket"})')" ] ||
  fail "classic _bucket series were ingested too"
# The counter of the same payload arrives as a float series.
[ "$(prom_value "$RECEIVER_PORT" 'requests_total{job="app"}')" = "42" ] || fail "requests_total"
[ "$(prom_value "$RECEIVER_PORT" 'up{job="app"}')" = "1" ] || fail "up is not 1"
# The histogram's exemplar (trace_id abc123, value 12, stamped by the target) arrives with it.
now=$(date +%s)
ex=$(curl -sf -G "http://127.0.0.1:$RECEIVER_PORT/api/v1/query_exemplars" \
  --data-urlencode "query=$sel" --data-urlencode start=$((now - 600)) \
  --data-urlencode end=$((now + 60)) |
  jq -c '[.data[].exemplars[] | {t: .labels.trace_id, v: .value}] | unique')
if [ "$ex" != '[{"t":"abc123","v":"12"}]' ]; then
  curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^prometheus_(agent|remote).*exemplar' >&2 || true
  fail "exemplars at the receiver: $ex"
fi
echo "PASS"
