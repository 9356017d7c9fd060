#!/usr/bin/env bash
# Audit's cost (docs/benchmarks.md, "Audit"): GET (HTTP/2, 16 streams) and
# CREATE (64 writers), 10 s each, with audit off, up's default policy
# (Metadata) and RequestResponse for everything, alternating, five rounds.
# `auditperf.sh latency` compares p99 with few requests in flight
# instead (GET 2 streams, CREATE 4 writers; off and Metadata);
# `auditperf.sh cpu` the server's CPU time a request (off and Metadata). Needs /tmp/sekisho and /tmp/loadgen built
# from this tree.
set -u
. "$(dirname "$0")/perflib.sh"
cat > /tmp/perf-rr-policy.yaml <<'P'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
P
port=17460
# modes_from ROUND MODE... prints the modes rotated to start at the
# ROUND-th: the first server of a round measured faster than the rest
# (runs 12-14 in docs/benchmarks.md), so no mode always goes first.
modes_from() {
  local round=$1; shift
  local n=$# i
  for i in $(seq 0 $((n - 1))); do
    local k=$(( (round - 1 + i) % n + 1 ))
    printf '%s ' "${!k}"
  done
}
# rounds MEASURE MODE... runs five rounds: in each, for every mode in
# turn, a fresh server (a store grown by earlier rounds would differ from
# mode to mode) measured by `MEASURE LABEL KUBECONFIG`.
rounds() {
  local measure=$1; shift
  local round mode dir flags
  for round in 1 2 3 4 5; do
    for mode in $(modes_from $round "$@"); do
      dir=/tmp/auditperf-$mode
      case $mode in
        off) flags="--audit-policy-file=" ;;
        metadata) flags="" ;;
        rr) flags="--audit-policy-file=/tmp/perf-rr-policy.yaml" ;;
      esac
      rm -rf $dir
      perf_start $dir $port $flags
      $measure "round $round $mode" $dir/super-admin.conf
      perf_stop
    done
  done
}
# The server's CPU time a request, audit off and at up's policy: what
# audit costs a request, which the machine's noise moves less than
# throughput.
measure_cpu() {
  perf_scenario_cpu get "$1 GET" "$2" --concurrency 16 --http2
  perf_create_cpu "$1" "$2"
}
# Latency without a queue: with few requests in flight a request's p99
# is its own cost, where with 64 writers it is mostly the wait behind the
# others, and moves with throughput.
measure_latency() {
  echo "$1 GET    $(/tmp/loadgen --kubeconfig "$2" --scenario get --duration 10s --concurrency 2 --http2 | tail -1)"
  echo "$1 CREATE $(/tmp/loadgen --kubeconfig "$2" --scenario create --duration 10s --concurrency 4 | tail -1)"
}
case "${1:-}" in
  cpu) rounds measure_cpu off metadata ;;
  latency) rounds measure_latency off metadata ;;
  *) rounds perf_get_create off metadata rr ;;
esac
