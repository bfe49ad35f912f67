# Shell helpers shared by the demo, the integration tests and the benchmarks.
# Everything binds 127.0.0.1 on free ports and is stopped by PID. Source this file.

# A TCP port on 127.0.0.1 that nothing listens on right now. It is drawn from below the kernel's
# ephemeral range (ip_local_port_range, 32768 by default): a port inside it can be handed to an
# outgoing connection of a test running alongside between this check and the bind (CI saw
# "cannot listen on 127.0.0.1:49698" that way).
free_port() {
  local p i lo=32768 hi
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  hi=$((lo > 12000 ? lo - 1 : 32767))
  for i in $(seq 1 200); do
    p=$(( (RANDOM * 32768 + RANDOM) % (hi - 10000) + 10000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "free_port: no free port found" >&2
  return 1
}

# wait_for <seconds> <command...>: runs the command every 0.2 s until it succeeds.
wait_for() {
  local seconds=$1; shift
  local tries=$(( seconds * 5 )) i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

PIDS_TO_STOP=()

# Stops every process started with start_bg, newest first: TERM, then KILL after 10 s.
stop_all() {
  local pid i
  for ((i = ${#PIDS_TO_STOP[@]} - 1; i >= 0; i--)); do
    pid=${PIDS_TO_STOP[$i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS_TO_STOP=()
}

# start_bg <logfile> <command...>: starts a background process and remembers its PID in
# LAST_PID for stop_all.
start_bg() {
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  LAST_PID=$!
  PIDS_TO_STOP+=("$LAST_PID")
}

# start_receiver <workdir>: a Prometheus accepting remote write; sets RECEIVER_PORT/PID.
start_receiver() {
  local dir=$1 attempt
  mkdir -p "$dir/receiver"
  printf 'global:\n  scrape_interval: 1h\n' >"$dir/receiver/prometheus.yml"
  for attempt in 1 2 3; do
    RECEIVER_PORT=$(free_port)
    start_bg "$dir/receiver/log" prometheus \
      --config.file="$dir/receiver/prometheus.yml" \
      --storage.tsdb.path="$dir/receiver/data" \
      --web.listen-address="127.0.0.1:$RECEIVER_PORT" \
      --web.enable-remote-write-receiver
    RECEIVER_PID=$LAST_PID
    if wait_for 30 curl -sf "http://127.0.0.1:$RECEIVER_PORT/-/ready"; then return 0; fi
    kill "$RECEIVER_PID" 2>/dev/null || true
  done
  echo "start_receiver: Prometheus did not become ready; log:" >&2
  cat "$dir/receiver/log" >&2
  return 1
}

# start_node_exporter <workdir>: sets NODE_PORT/PID.
start_node_exporter() {
  local dir=$1 attempt
  for attempt in 1 2 3; do
    NODE_PORT=$(free_port)
    start_bg "$dir/node_exporter.log" prometheus-node-exporter \
      --web.listen-address="127.0.0.1:$NODE_PORT"
    NODE_PID=$LAST_PID
    if wait_for 20 curl -sf "http://127.0.0.1:$NODE_PORT/metrics"; then return 0; fi
    kill "$NODE_PID" 2>/dev/null || true
  done
  echo "start_node_exporter: node_exporter did not start; log:" >&2
  cat "$dir/node_exporter.log" >&2
  return 1
}

# start_petrel <petrel binary> <workdir> <config> <port>: sets PETREL_PID; data in
# <workdir>/data. The port is chosen by the caller (the config may scrape petrel itself).
start_petrel() {
  local bin=$1 dir=$2 cfg=$3 attempt
  PETREL_PORT=$4
  for attempt in 1 2 3; do
    start_bg "$dir/petrel.log" "$bin" --config.file="$cfg" \
      --storage.agent.path="$dir/data" --web.listen-address="127.0.0.1:$PETREL_PORT" \
      --log.level=debug
    PETREL_PID=$LAST_PID
    if wait_for 20 curl -sf "http://127.0.0.1:$PETREL_PORT/-/ready"; then return 0; fi
    kill "$PETREL_PID" 2>/dev/null || true
    wait "$PETREL_PID" 2>/dev/null || true
    grep -q "cannot listen" "$dir/petrel.log" || break
  done
  echo "start_petrel: petrel did not become ready; log:" >&2
  cat "$dir/petrel.log" >&2
  return 1
}

# prom_query <port> <promql>: prints the JSON result of an instant query.
prom_query() {
  curl -sf -G "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2"
}

# prom_value <port> <promql>: the first result's value, or empty.
prom_value() {
  prom_query "$1" "$2" | jq -r '.data.result[0].value[1] // empty'
}

# prom_has <port> <promql>: succeeds when the query returns at least one series (use with
# wait_for, which needs a command, not an already-expanded value).
prom_has() {
  [ -n "$(prom_value "$1" "$2")" ]
}

# start_receiver_at <dir> <port> [extra prometheus flags...]: a Prometheus accepting remote
# write on a given port with its data in <dir>/data (to restart a stopped receiver in place);
# sets RECEIVER_PID. The log is appended to <dir>/log. Fails if it is not ready in 30 s.
start_receiver_at() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir"
  [ -f "$dir/prometheus.yml" ] || printf 'global:\n  scrape_interval: 1h\n' >"$dir/prometheus.yml"
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver "$@" \
    >>"$dir/log" 2>&1 &
  RECEIVER_PID=$!
  PIDS_TO_STOP+=("$RECEIVER_PID")
  wait_for 30 curl -sf "http://127.0.0.1:$port/-/ready" && return 0
  echo "start_receiver_at: Prometheus on $port did not become ready; log:" >&2
  tail -20 "$dir/log" >&2
  return 1
}

# stop_pid <pid> [signal]: signals one process we started and waits (20 s) until it is gone.
stop_pid() {
  local pid=$1 sig=${2:-TERM}
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

# forget_pid <pid>: a process that is gone leaves stop_all's list (its PID may be reused).
forget_pid() {
  local p keep=()
  for p in "${PIDS_TO_STOP[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS_TO_STOP=("${keep[@]}")
}

# start_farm <petrel-farm binary> <workdir> <targets> <series>: sets FARM_PORT/PID. Target i is
# served at /metrics/i; its values change on every scrape.
start_farm() {
  local bin=$1 dir=$2
  rm -f "$dir/farm.port"
  start_bg "$dir/farm.log" "$bin" --port 0 --targets "$3" --series "$4" \
    --port-file "$dir/farm.port" --stats-file "$dir/farm.stats"
  FARM_PID=$LAST_PID
  wait_for 20 test -s "$dir/farm.port" || { echo "start_farm: no port" >&2; return 1; }
  FARM_PORT=$(cat "$dir/farm.port")
}

# start_victoria_metrics <workdir>: a single-node VictoriaMetrics (remote write at
# /api/v1/write, Prometheus query API at /api/v1/query); sets VM_PORT/PID.
start_victoria_metrics() {
  local dir=$1 attempt
  mkdir -p "$dir/vm"
  for attempt in 1 2 3; do
    VM_PORT=$(free_port)
    start_bg "$dir/vm/log" victoria-metrics -storageDataPath="$dir/vm/data" \
      -httpListenAddr="127.0.0.1:$VM_PORT" -retentionPeriod=100y -search.latencyOffset=0s \
      -search.disableCache
    VM_PID=$LAST_PID
    if wait_for 30 curl -sf "http://127.0.0.1:$VM_PORT/health"; then return 0; fi
    kill "$VM_PID" 2>/dev/null || true
  done
  echo "start_victoria_metrics: not ready; log:" >&2
  tail -20 "$dir/vm/log" >&2
  return 1
}

# metric_sum <port> <name> [label filter regex]: the sum of a metric's samples on a /metrics
# page (0 when absent).
metric_sum() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" -v f="${3:-}" '$1 == n || index($1, n "{") == 1 {
      if (f == "" || $1 ~ f) s += $2 } END { printf "%.0f\n", s }'
}
