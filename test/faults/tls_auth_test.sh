#!/usr/bin/env bash
# Issue 5, acceptance 4: TLS with a test CA made now with the openssl CLI, against real
# Prometheus 2.42 receivers configured with --web.config.file:
#   tls_ca    server TLS + basic_auth_users (bcrypt): petrel with tls_config.ca_file and
#             basic_auth delivers every sample (exact set against the WAL);
#   mtls      RequireAndVerifyClientCert: petrel with ca_file + cert_file/key_file delivers
#             every sample;
#   wrong_ca  ca_file of another CA: nothing delivered, retried, and petrel's log says why
#             (certificate verification);
#   no_cert   the mTLS receiver without a client certificate: nothing delivered, retried;
#   bad_pass  the basic-auth receiver with a wrong password: 401, counted failed, not retried.
# And against a recording receiver (header_receiver.py): bearer credentials, basic auth from a
# password_file and a tenant header arrive as the exact headers. No secret appears in the log.
# usage: tls_auth_test.sh <petrel> <lib.sh> <petrel-farm>
set -euo pipefail
PETREL=$1
source "$2"
FARM=$3
source "$(dirname "$0")/common.sh"
command -v openssl >/dev/null || { echo "missing openssl"; exit 1; }
faults_setup tls
C=$WORK/certs
mkdir -p "$C"

# The CA, a server certificate for 127.0.0.1, a client certificate, and an unrelated CA.
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
for ca in ca wrong_ca; do
  key "$C/$ca.key"
  openssl req -x509 -new -key "$C/$ca.key" -out "$C/$ca.crt" -days 2 -subj "/CN=petrel test $ca" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
done
issue() {  # issue <name> <extensions>
  key "$C/$1.key"
  openssl req -new -key "$C/$1.key" -out "$C/$1.csr" -subj "/CN=petrel test $1" 2>/dev/null
  printf '%s\n' "$2" >"$C/$1.ext"
  openssl x509 -req -in "$C/$1.csr" -CA "$C/ca.crt" -CAkey "$C/ca.key" -CAcreateserial \
    -out "$C/$1.crt" -days 2 -extfile "$C/$1.ext" 2>/dev/null
}
issue server $'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'
issue client $'extendedKeyUsage=clientAuth'
openssl verify -CAfile "$C/ca.crt" "$C/server.crt" "$C/client.crt" >/dev/null || fail "test CA"

# bcrypt of BASIC_PASS (cost 4); python's crypt makes a fresh one when it can.
BASIC_PASS=s3cret-basic
HASH=$(python3 -W ignore -c "import crypt; print(crypt.crypt('$BASIC_PASS', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))" 2>/dev/null) ||
  HASH='$2b$04$oprKOUP40ThIu6D7GxslVuvXpt4Vme1ZBL9CGEzO5xx4.LLuX2Hje'
mkdir -p "$WORK/r_tls" "$WORK/r_mtls"
cat >"$WORK/r_tls/web.yml" <<YAML
tls_server_config:
  cert_file: $C/server.crt
  key_file: $C/server.key
basic_auth_users:
  petrel: '$HASH'
YAML
cat >"$WORK/r_mtls/web.yml" <<YAML
tls_server_config:
  cert_file: $C/server.crt
  key_file: $C/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: $C/ca.crt
YAML
start_tls_receiver() {  # <dir> <curl auth args...>: sets TLS_PORT; three tries for a port
  local dir=$1 attempt
  shift
  printf 'global:\n  scrape_interval: 1h\n' >"$dir/prometheus.yml"
  for attempt in 1 2 3; do
    TLS_PORT=$(free_port)
    start_bg "$dir/log" prometheus --config.file="$dir/prometheus.yml" \
      --storage.tsdb.path="$dir/data" --web.listen-address="127.0.0.1:$TLS_PORT" \
      --web.enable-remote-write-receiver --web.config.file="$dir/web.yml"
    wait_for 30 curl -sf --cacert "$C/ca.crt" "$@" "https://127.0.0.1:$TLS_PORT/-/ready" && return 0
    stop_pid "$LAST_PID" KILL
  done
  tail -20 "$dir/log" >&2
  fail "TLS receiver in $dir not ready"
}
start_tls_receiver "$WORK/r_tls" -u "petrel:$BASIC_PASS"
RT=$TLS_PORT
start_tls_receiver "$WORK/r_mtls" --cert "$C/client.crt" --key "$C/client.key"
RM=$TLS_PORT
curl -s -o /dev/null --cacert "$C/ca.crt" "https://127.0.0.1:$RM/-/ready" &&
  fail "the mTLS receiver accepts a client without a certificate"
start_bg "$WORK/headers.log" python3 "$FAULTS_DIR/header_receiver.py" "$WORK/h.port" "$WORK/headers.jsonl"
wait_for 20 test -s "$WORK/h.port" || fail "header receiver"
H=$(cat "$WORK/h.port")
printf '%s' "$BASIC_PASS" >"$WORK/basic.pass"
TOKEN=t0ken-for-bearer-test

start_farm "$FARM" "$WORK" 2 50
Q="queue_config: {batch_send_deadline: 200ms, min_backoff: 100ms, max_backoff: 1s}"
RW="remote_write:
  - {name: tls_ca, url: 'https://127.0.0.1:$RT/api/v1/write', $Q,
     tls_config: {ca_file: $C/ca.crt}, basic_auth: {username: petrel, password: $BASIC_PASS}}
  - {name: mtls, url: 'https://127.0.0.1:$RM/api/v1/write', $Q,
     tls_config: {ca_file: $C/ca.crt, cert_file: $C/client.crt, key_file: $C/client.key}}
  - {name: wrong_ca, url: 'https://127.0.0.1:$RM/api/v1/write', $Q,
     tls_config: {ca_file: $C/wrong_ca.crt, cert_file: $C/client.crt, key_file: $C/client.key}}
  - {name: no_cert, url: 'https://127.0.0.1:$RM/api/v1/write', $Q, tls_config: {ca_file: $C/ca.crt}}
  - {name: bad_pass, url: 'https://127.0.0.1:$RT/api/v1/write', $Q,
     tls_config: {ca_file: $C/ca.crt}, basic_auth: {username: petrel, password: not-the-password}}
  - {name: bearer, url: 'http://127.0.0.1:$H/bearer', $Q, authorization: {credentials: $TOKEN},
     headers: {X-Scope-OrgID: tenant-b}}
  - {name: basic, url: 'http://127.0.0.1:$H/basic', $Q,
     basic_auth: {username: petrel, password_file: $WORK/basic.pass}}"
write_config "$WORK/petrel.yml" "$(farm_jobs 2 1s)" "$RW"
run_petrel "$WORK/petrel.yml"
petrel_ready || fail "petrel not ready"
wait_for 30 acked_gt 0 tls_ca || fail "nothing acknowledged by the TLS receiver"
wait_for 30 acked_gt 0 mtls || fail "nothing acknowledged by the mTLS receiver"
wait_for 30 pm_gt 0 prometheus_remote_storage_samples_retried_total 'remote_name="wrong_ca"' ||
  fail "wrong_ca: no retries counted"
wait_for 30 pm_gt 0 prometheus_remote_storage_samples_retried_total 'remote_name="no_cert"' ||
  fail "no_cert: no retries counted"
wait_for 30 pm_gt 0 prometheus_remote_storage_samples_failed_total 'remote_name="bad_pass"' ||
  fail "bad_pass: no failed samples counted"
sleep 10  # a few more scrapes through every endpoint
freeze "$WORK/petrel.yml" "$RW"
for e in tls_ca mtls bearer basic; do drained "$e" 60 || fail "$e not drained"; done
declare -A A F RT_
for e in tls_ca mtls wrong_ca no_cert bad_pass bearer basic; do
  A[$e]=$(acked "$e")
  F[$e]=$(pm prometheus_remote_storage_samples_failed_total "remote_name=\"$e\"")
  RT_[$e]=$(pm prometheus_remote_storage_samples_retried_total "remote_name=\"$e\"")
  echo "  $e: acknowledged ${A[$e]}, failed ${F[$e]}, retried ${RT_[$e]}"
done
# samples_total counts an attempt when it starts, so a failing endpoint's in-flight attempt
# shows in "acknowledged"; the sent high-water mark moves only when a batch is done with.
for e in wrong_ca no_cert; do
  [ "$(pm prometheus_remote_storage_queue_highest_sent_timestamp_seconds "remote_name=\"$e\"")" = 0 ] ||
    fail "$e: a misconfigured TLS endpoint finished a batch"
done
dump_wal
# The receivers' query API needs TLS (and auth): curl fetches, samples.py compares.
fetch_compare() {  # <port> <curl args...>: exact set of the WAL against a TLS receiver
  local port=$1
  shift
  curl -sf --cacert "$C/ca.crt" "$@" -G "https://127.0.0.1:$port/api/v1/query" \
    --data-urlencode 'query={job="farm"}[1h]' --data-urlencode "time=$(($(date +%s) + 1))" \
    >"$WORK/q.json" || fail "query on $port"
  $SAMPLES compare --dump "$WORK/dump.txt" --prom-json "$WORK/q.json"
}
r=$(fetch_compare "$RT" -u "petrel:$BASIC_PASS") || { echo "$r"; fail "TLS receiver differs from the WAL"; }
echo "WAL vs TLS + basic auth receiver: $r"
r=$(fetch_compare "$RM" --cert "$C/client.crt" --key "$C/client.key") ||
  { echo "$r"; fail "mTLS receiver differs from the WAL"; }
echo "WAL vs mTLS receiver: $r"

grep -m1 -E 'remote_name=wrong_ca.*(SSL certificate problem|certificate verify failed|unable to get local issuer)' \
  "$WORK/petrel.log" || fail "no clear certificate error for wrong_ca in the log"
awk '/remote_name=no_cert/ && tolower($0) ~ /ssl|tls|alert|certificate/ {f = 1; print; exit}
     END {exit !f}' "$WORK/petrel.log" ||
  fail "no TLS error for no_cert in the log"
((F[bad_pass] > 0 && RT_[bad_pass] == 0 && A[bad_pass] == 0)) || fail "bad_pass: expected failed (401), not retried"
grep -m1 -E 'remote_name=bad_pass.*401' "$WORK/petrel.log" || fail "no 401 in the log for bad_pass"

# Headers at the recording receiver.
python3 - "$WORK/headers.jsonl" "$TOKEN" "$BASIC_PASS" <<'PY' || fail "headers"
import base64, json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
want = {"/bearer": {"Authorization": "Bearer " + sys.argv[2], "X-Scope-OrgID": "tenant-b"},
        "/basic": {"Authorization": "Basic " + base64.b64encode(
            ("petrel:" + sys.argv[3]).encode()).decode()}}
common = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
          "X-Prometheus-Remote-Write-Version": "0.1.0"}
for path, hs in want.items():
    got = [r for r in reqs if r["path"] == path]
    if not got:
        sys.exit("no request on %s" % path)
    for r in got:
        h = {k.lower(): v for k, v in r["headers"].items()}
        for k, v in list(hs.items()) + list(common.items()):
            if h.get(k.lower()) != v:
                sys.exit("%s: header %s is %r, want %r" % (path, k, h.get(k.lower()), v))
    print("%s: %d requests, every one with %s" % (path, len(got), ", ".join(sorted(hs))))
PY
for secret in "$BASIC_PASS" "$TOKEN" not-the-password; do
  ! grep -q -- "$secret" "$WORK/petrel.log" || fail "a secret appears in petrel's log"
done
echo "no secret in petrel's log"
log "PASS"
