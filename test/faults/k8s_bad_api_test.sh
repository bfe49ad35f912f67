#!/usr/bin/env bash
# Issue 10: a Kubernetes API server that sends the wrong JSON types in the list and watch framing
# (k8s_bad_api.py: metadata.continue and resourceVersion as numbers; a watch ERROR event whose
# code is a string and whose message a number). Petrel used to abort there (a json type_error
# thrown out of the curl write callback). Checked: petrel stays up through three watches, each
# ERROR event is logged and counted in prometheus_sd_kubernetes_failures_total, and the
# discoverer keeps listing and watching.
# usage: k8s_bad_api_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
source "$(dirname "$0")/common.sh"
faults_setup k8s-bad-api

start_bg "$WORK/api.log" python3 "$FAULTS_DIR/k8s_bad_api.py" "$WORK/api.port" "$WORK/api.json"
wait_for 20 test -s "$WORK/api.port" || fail "k8s_bad_api.py did not start: $(cat "$WORK/api.log")"
API=$(cat "$WORK/api.port")
cat >"$WORK/petrel.yml" <<YAML
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        api_server: http://127.0.0.1:$API
YAML
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
watches() { (($(jq .watch "$WORK/api.json") >= $1)); }
wait_for 30 watches 3 || fail "fewer than 3 watches: $(cat "$WORK/api.json")"
kill -0 "$PETREL_PID" 2>/dev/null || fail "petrel died on the API server's answers"
curl -sf "http://127.0.0.1:$PORT/-/healthy" >/dev/null || fail "petrel not healthy"
failures=$(pm prometheus_sd_kubernetes_failures_total)
((failures >= 2)) || fail "prometheus_sd_kubernetes_failures_total is $failures"
grep -q 'watch error event: {' "$WORK/petrel.log" || fail "the ERROR event is not logged"
log "API server: $(cat "$WORK/api.json"); petrel alive, $failures discovery failures counted"
log "PASS"
