# Shared by the *perf.sh scripts: start and stop a server built at
# /tmp/sekisho, and measure GET and CREATE with /tmp/loadgen.

# perf_start DIR PORT [FLAGS...] starts `sekisho up` in DIR (its log in
# DIR.log) and waits until /readyz answers; perf_pid is its pid. The
# binary is /tmp/sekisho, or $SEKISHO_BIN.
perf_start() {
  local dir=$1 port=$2; shift 2
  "${SEKISHO_BIN:-/tmp/sekisho}" up --data-dir "$dir" --secure-port "$port" "$@" > "$dir.log" 2>&1 &
  perf_pid=$!
  for _ in $(seq 300); do curl -sk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
}

perf_stop() { kill "$perf_pid"; wait "$perf_pid" 2>/dev/null; sleep 1; }

# perf_get_create LABEL KUBECONFIG [LOADGEN FLAGS...] prints a GET line
# (HTTP/2, 16 streams) and a CREATE line (64 writers), 10 s each.
perf_get_create() {
  local label=$1 k=$2; shift 2
  echo "$label GET    $(/tmp/loadgen --kubeconfig "$k" "$@" --scenario get --duration 10s --concurrency 16 --http2 | tail -1)"
  echo "$label CREATE $(/tmp/loadgen --kubeconfig "$k" "$@" --scenario create --duration 10s --concurrency 64 | tail -1)"
}

# perf_cpu_ticks prints the server's CPU time so far (user + system, in
# clock ticks of 1/100 s).
perf_cpu_ticks() { awk '{print $14 + $15}' "/proc/$perf_pid/stat"; }

# perf_create_cpu LABEL KUBECONFIG [LOADGEN FLAGS...] prints a CREATE line
# (64 writers, 10 s) with the server's CPU time per request: a figure
# the machine's noise moves less than throughput.
perf_create_cpu() {
  local label=$1 k=$2; shift 2
  perf_scenario_cpu create "$label CREATE" "$k" --concurrency 64 "$@"
}

# perf_scenario_cpu SCENARIO LABEL KUBECONFIG [LOADGEN FLAGS...] runs one
# loadgen scenario for 10 s and prints its line with the server's CPU
# time per request.
perf_scenario_cpu() {
  local scenario=$1 label=$2 k=$3; shift 3
  local t0 out t1
  t0=$(perf_cpu_ticks)
  out=$(/tmp/loadgen --kubeconfig "$k" --scenario "$scenario" --duration 10s --json "$@" | tail -1)
  t1=$(perf_cpu_ticks)
  echo "$label $(echo "$out" | jq -r --argjson ticks $((t1 - t0)) '"\(.requests) requests \(.errors) errors \(.perSecond | floor)/s, server CPU \($ticks * 10000 / .requests | floor) µs per request"')"
}
