#!/usr/bin/env bash
# Kubernetes discovery end to end (issue 7, acceptance 2 and 3): the fake API server process
# serves the pods of shared/fixtures/k8s (pod IPs 127.0.0.11-13), small HTTP targets listen on
# those loopback IPs, petrel discovers them with kubernetes_sd_configs (role pod) and relabel
# rules, scrapes them and remote-writes to a real Prometheus receiver. Checks:
#  - the receiver has each running pod's samples with the relabeled labels (app, namespace, pod,
#    node) and none of the pending pod (no IP);
#  - watch events pushed to the fake (the fixture's MODIFIED, ADDED, DELETED) change petrel's
#    /api/v1/targets within 2 s (the time taken is printed), the new pods' samples arrive and
#    the deleted pod's series go stale at the receiver.
# Usage: k8s_e2e_test.sh <petrel> <lib.sh> <petrel-fake-apiserver> <fixtures dir>
set -euo pipefail
PETREL=$1
source "$2"
FAKE=$3
FIXTURES=$4
for tool in prometheus python3 curl jq; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/petrel-k8s-e2e.XXXXXX)
trap 'stop_all; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- petrel log" >&2; tail -40 "$WORK/petrel.log" >&2 || true; exit 1; }

# The fake API server; it writes its ports once it listens.
start_bg "$WORK/fake.log" "$FAKE" --port-file="$WORK/api.port" --control-port-file="$WORK/control.port"
wait_for 20 test -s "$WORK/api.port" -a -s "$WORK/control.port" ||
  { cat "$WORK/fake.log" >&2; fail "the fake API server did not start"; }
API_PORT=$(cat "$WORK/api.port")
CONTROL_PORT=$(cat "$WORK/control.port")

# One small target process listening on every pod IP the fixtures use (running pods now, and
# the ones the watch events bring), all on the same free port.
TARGET_PORT=$(free_port)
POD_IPS="127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.15 127.0.0.16"
cat >"$WORK/targets.py" <<'PY'
import http.server, sys, threading
port = int(sys.argv[1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        ip = self.server.server_address[0]
        body = ("# TYPE demo_requests_total counter\n"
                'demo_requests_total{served_by="%s"} 42\n' % ip).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
servers = [http.server.ThreadingHTTPServer((ip, port), Handler) for ip in sys.argv[2:]]
threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
for t in threads:
    t.start()
print("serving", flush=True)
threads[0].join()
PY
# shellcheck disable=SC2086
start_bg "$WORK/targets.log" python3 "$WORK/targets.py" "$TARGET_PORT" $POD_IPS
for ip in $POD_IPS; do
  wait_for 20 curl -sf "http://$ip:$TARGET_PORT/metrics" ||
    { cat "$WORK/targets.log" >&2; fail "no target server on $ip:$TARGET_PORT"; }
done

start_receiver "$WORK"
PORT=$(free_port)
cat >"$WORK/petrel.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: http://127.0.0.1:$API_PORT
        namespaces:
          names: [shop]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: metrics
        action: keep
      - source_labels: [__meta_kubernetes_pod_ip]
        target_label: __address__
        replacement: "\${1}:$TARGET_PORT"
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]
        target_label: app
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_node_name]
        target_label: node
remote_write:
  - url: http://127.0.0.1:$RECEIVER_PORT/api/v1/write
    name: central
    queue_config:
      batch_send_deadline: 500ms
YAML
start_petrel "$PETREL" "$WORK" "$WORK/petrel.yml" "$PORT"
START=$(date +%s)

# Samples of every running pod reach the receiver with the relabeled labels.
declare -A NODE_OF=([web-7d9f8b6c5d-x2x9k]=edge-node-1 [web-7d9f8b6c5d-q4m7z]=edge-node-2
                    [web-7d9f8b6c5d-h8n2w]=edge-node-1)
declare -A IP_OF=([web-7d9f8b6c5d-x2x9k]=127.0.0.11 [web-7d9f8b6c5d-q4m7z]=127.0.0.12
                  [web-7d9f8b6c5d-h8n2w]=127.0.0.13)
for pod in "${!NODE_OF[@]}"; do
  sel="job=\"pods\",app=\"web\",namespace=\"shop\",pod=\"$pod\",node=\"${NODE_OF[$pod]}\""
  sel="$sel,instance=\"${IP_OF[$pod]}:$TARGET_PORT\""
  wait_for 60 prom_has "$RECEIVER_PORT" "up{$sel} == 1" || fail "no up{$sel} == 1 at the receiver"
  q="demo_requests_total{$sel,served_by=\"${IP_OF[$pod]}\"} == 42"
  wait_for 30 prom_has "$RECEIVER_PORT" "$q" || fail "no $q at the receiver"
done
echo "three running pods discovered, scraped and received with relabeled labels after $(( $(date +%s) - START )) s"
[ -z "$(prom_value "$RECEIVER_PORT" 'up{pod="web-7d9f8b6c5d-p5r6t"}')" ] ||
  fail "the pending pod (no IP) was scraped"

targets() {
  curl -sf "http://127.0.0.1:$PORT/api/v1/targets" |
    jq -r '[.data.activeTargets[].labels.pod] | sort | join(",")'
}
[ "$(targets)" = "web-7d9f8b6c5d-h8n2w,web-7d9f8b6c5d-q4m7z,web-7d9f8b6c5d-x2x9k" ] ||
  fail "petrel's targets are $(targets)"

# push <line of watch-pods.ndjson>: sends that watch event through the fake.
push() {
  local line type
  line=$(sed -n "${1}p" "$FIXTURES/watch-pods.ndjson")
  type=$(jq -r .type <<<"$line")
  curl -sf -X POST --data-binary "$line" \
    "http://127.0.0.1:$CONTROL_PORT/push?resource=pods&type=$type" >/dev/null ||
    fail "push of watch event $1 failed"
}
# until_targets <want>: polls /api/v1/targets every 20 ms for at most 2 s; prints milliseconds.
until_targets() {
  local start now i
  start=$(date +%s%N)
  for ((i = 0; i < 100; i++)); do
    if [ "$(targets)" = "$1" ]; then
      now=$(date +%s%N)
      echo $(( (now - start) / 1000000 ))
      return 0
    fi
    sleep 0.02
  done
  return 1
}

push 1  # MODIFIED: the pending pod p5r6t got IP 127.0.0.15
ms=$(until_targets "web-7d9f8b6c5d-h8n2w,web-7d9f8b6c5d-p5r6t,web-7d9f8b6c5d-q4m7z,web-7d9f8b6c5d-x2x9k") ||
  fail "MODIFIED not in /api/v1/targets within 2 s: $(targets)"
echo "MODIFIED pod in petrel's targets after $ms ms"
push 2  # ADDED: z9y8x at 127.0.0.16
ms=$(until_targets "web-7d9f8b6c5d-h8n2w,web-7d9f8b6c5d-p5r6t,web-7d9f8b6c5d-q4m7z,web-7d9f8b6c5d-x2x9k,web-7d9f8b6c5d-z9y8x") ||
  fail "ADDED not in /api/v1/targets within 2 s: $(targets)"
echo "ADDED pod in petrel's targets after $ms ms"
push 4  # DELETED: h8n2w
ms=$(until_targets "web-7d9f8b6c5d-p5r6t,web-7d9f8b6c5d-q4m7z,web-7d9f8b6c5d-x2x9k,web-7d9f8b6c5d-z9y8x") ||
  fail "DELETED not in /api/v1/targets within 2 s: $(targets)"
echo "DELETED pod gone from petrel's targets after $ms ms"

for pod in web-7d9f8b6c5d-p5r6t web-7d9f8b6c5d-z9y8x; do
  q="up{job=\"pods\",app=\"web\",namespace=\"shop\",pod=\"$pod\"} == 1"
  wait_for 30 prom_has "$RECEIVER_PORT" "$q" || fail "no $q at the receiver"
done
echo "the new pods' samples reach the receiver"
# The deleted pod's series end with stale markers: an instant query no longer returns them.
wait_for 30 bash -c "! curl -sf -G 'http://127.0.0.1:$RECEIVER_PORT/api/v1/query' \
  --data-urlencode 'query=up{pod=\"web-7d9f8b6c5d-h8n2w\"}' | jq -e '.data.result[0]'" ||
  fail "the deleted pod's up series is not stale at the receiver"
echo "the deleted pod's series are stale at the receiver"

# Discovery self-metrics.
curl -sf "http://127.0.0.1:$PORT/metrics" >"$WORK/self.txt"
grep -q '^prometheus_sd_kubernetes_events_total{.*role="pod".*} [1-9]' "$WORK/self.txt" ||
  fail "no pod events counted in prometheus_sd_kubernetes_events_total"
echo "PASS"
