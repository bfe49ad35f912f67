#!/usr/bin/env bash
# The runtime claims of docs/security.md, end to end against the petrel binary (issue 10):
#  1. secrets are never logged or shown: every configured secret (remote write basic_auth
#     password, remote write bearer credentials, a password in a remote write URL, a scrape
#     credentials_file, a kubernetes_sd bearer token) is a unique marker; with everything
#     failing (receiver down, a receiver answering 404, a target down, the API server down) and
#     debug logging, neither the marker nor the base64 Authorization value appears in the log,
#     /api/v1/status/config, /api/v1/targets, / or /metrics;
#  2. /-/reload and /-/quit answer 403 without --web.enable-lifecycle, and petrel keeps running;
#  3. TLS verification is on by default: a scrape and a remote write to an https endpoint with
#     a self-signed certificate fail with a certificate error, and the same target is up once
#     its CA is configured (tls_config.ca_file).
# Everything binds 127.0.0.1 on free ports; needs curl, jq, openssl.
set -euo pipefail
PETREL=$1
source "$2"
for tool in curl jq openssl base64; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done

WORK=$(mktemp -d /tmp/petrel-secrets.XXXXXX)
trap 'stop_all; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- petrel log" >&2; tail -40 "$WORK/petrel.log" >&2 || true; exit 1; }

# One marker per place a secret can be configured, sharing a prefix that nothing else has.
MARK="pxs$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BASIC_B64=$(printf 'rw-user:%s' "${MARK}basic" | base64 -w0)
printf '%s\n' "${MARK}file" >"$WORK/scrape-token"

# An https endpoint with a self-signed certificate for 127.0.0.1, serving ./metrics.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
mkdir -p "$WORK/www"
printf '# TYPE tls_served gauge\ntls_served 1\n' >"$WORK/www/metrics"
TLS_PORT=$(free_port)
(cd "$WORK/www" && exec openssl s_server -quiet -WWW -accept "127.0.0.1:$TLS_PORT" \
  -cert "$WORK/tls.crt" -key "$WORK/tls.key") >"$WORK/s_server.log" 2>&1 &
PIDS_TO_STOP+=("$!")
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$TLS_PORT" || fail "openssl s_server did not start"

PORT=$(free_port)
DOWN=$(free_port)  # nothing listens here: receiver, target and API server down
cat >"$WORK/petrel.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: self-with-token-file
    authorization:
      credentials_file: $WORK/scrape-token
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
  - job_name: down-with-bearer
    bearer_token: ${MARK}scrapebearer
    static_configs:
      - targets: ["127.0.0.1:$DOWN"]
  - job_name: k8s
    kubernetes_sd_configs:
      - role: pod
        api_server: http://127.0.0.1:$DOWN
        bearer_token: ${MARK}k8s
  - job_name: tls-default
    scheme: https
    static_configs:
      - targets: ["127.0.0.1:$TLS_PORT"]
  - job_name: tls-with-ca
    scheme: https
    tls_config:
      ca_file: $WORK/tls.crt
    static_configs:
      - targets: ["127.0.0.1:$TLS_PORT"]
remote_write:
  - name: down-basic
    url: http://127.0.0.1:$DOWN/api/v1/write
    basic_auth:
      username: rw-user
      password: ${MARK}basic
    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 500ms}
  - name: not-found-bearer
    url: http://127.0.0.1:$PORT/no/such/write
    authorization:
      credentials: ${MARK}bearer
    queue_config: {batch_send_deadline: 200ms}
  - name: url-password
    url: http://rw-user:${MARK}url@127.0.0.1:$DOWN/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 500ms}
  - name: tls-untrusted
    url: https://127.0.0.1:$TLS_PORT/api/v1/write
    queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 500ms}
YAML
start_petrel "$PETREL" "$WORK" "$WORK/petrel.yml" "$PORT"
BASE="http://127.0.0.1:$PORT"

health() { curl -sf "$BASE/api/v1/targets" | jq -r ".data.activeTargets[] | select(.scrapePool == \"$1\") | .health"; }
last_error() { curl -sf "$BASE/api/v1/targets" | jq -r ".data.activeTargets[] | select(.scrapePool == \"$1\") | .lastError"; }
health_is() { [ "$(health "$1")" = "$2" ]; }
logged() { grep -q -- "$1" "$WORK/petrel.log"; }

# --- 3. TLS verification on by default. (openssl s_server answers one connection at a time,
# so a scrape may also time out now and then: wait for the certificate error itself.)
tls_refused() { last_error tls-default | grep -i "certificate" >/dev/null; }
wait_for 20 health_is tls-with-ca up || fail "tls-with-ca is $(health tls-with-ca): $(last_error tls-with-ca)"
wait_for 20 tls_refused || fail "tls-default's error names no certificate problem: $(last_error tls-default)"
echo "ok: scrape of a self-signed https target fails by default (lastError: $(last_error tls-default))," \
  "and is up with its CA in tls_config.ca_file"
rw_tls_refused() { grep 'remote_name=tls-untrusted' "$WORK/petrel.log" | grep -i 'certificate' >/dev/null; }
wait_for 20 rw_tls_refused || fail "no certificate error for the remote write to the self-signed receiver"
echo "ok: remote write to a self-signed https receiver fails by default:" \
  "$(grep 'remote_name=tls-untrusted' "$WORK/petrel.log" | grep -i -m1 'certificate' | grep -o 'err=.*')"

# --- 2. Lifecycle endpoints gated.
for ep in reload quit; do
  code=$(curl -s -o "$WORK/$ep.out" -w '%{http_code}' -X POST "$BASE/-/$ep")
  [ "$code" = 403 ] || fail "POST /-/$ep without --web.enable-lifecycle answered $code"
done
kill -0 "$PETREL_PID" 2>/dev/null || fail "petrel exited after POST /-/quit without the flag"
curl -sf "$BASE/-/ready" >/dev/null || fail "petrel not ready after the refused /-/quit"
echo "ok: /-/reload and /-/quit answer 403 without --web.enable-lifecycle; petrel still runs"

# --- 1. Secrets. First make sure every failure path has run and been logged.
wait_for 20 health_is self-with-token-file up || fail "self-with-token-file is not up"
wait_for 20 health_is down-with-bearer down || fail "down-with-bearer is not down"
wait_for 30 logged 'remote_name=down-basic' || fail "no remote write error logged for down-basic"
wait_for 30 logged 'remote_name=not-found-bearer' || fail "no error logged for not-found-bearer"
wait_for 30 logged 'remote_name=url-password' || fail "no error logged for url-password"
wait_for 30 logged 'kubernetes discovery failed' || fail "no kubernetes_sd error logged"
curl -sf "$BASE/api/v1/status/config" >"$WORK/config.json" || fail "/api/v1/status/config"
curl -sf "$BASE/api/v1/targets" >"$WORK/targets.json" || fail "/api/v1/targets"
curl -sf "$BASE/" >"$WORK/index.html" || fail "/"
curl -sf "$BASE/metrics" >"$WORK/metrics.txt" || fail "/metrics"
jq -e '.data.yaml | contains("<secret>")' "$WORK/config.json" >/dev/null ||
  fail "/api/v1/status/config shows no <secret> placeholder: the secrets are not in the rendered config"
# Reload by SIGHUP (always allowed) so the reload path logs too, then stop, so shutdown does.
kill -HUP "$PETREL_PID"
wait_for 10 logged 'Completed loading of configuration file' || fail "SIGHUP reload not logged"
stop_all

for f in petrel.log config.json targets.json index.html metrics.txt; do
  if grep -q -e "$MARK" -e "$BASIC_B64" "$WORK/$f"; then
    grep -n -e "$MARK" -e "$BASIC_B64" "$WORK/$f" | head -5 >&2
    fail "a secret appears in $f"
  fi
done
grep -rq -e "$MARK" -e "$BASIC_B64" "$WORK/data" && fail "a secret appears in the data directory"
echo "ok: no secret in the log ($(wc -l <"$WORK/petrel.log") lines at debug), /api/v1/status/config," \
  "/api/v1/targets, /, /metrics or the data directory"
echo "PASS"
