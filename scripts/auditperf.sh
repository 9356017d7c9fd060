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
if [ "${1:-}" = cpu ]; then
  # The server's CPU time a request, audit off and at up's policy: what
  # audit costs a request, which the machine's noise moves less than
  # throughput.
  for round in 1 2 3 4 5; do
    for mode in $(modes_from $round off metadata); do
      dir=/tmp/auditperf-$mode
      flags=""
      [ $mode = off ] && flags="--audit-policy-file="
      rm -rf $dir
      perf_start $dir $port $flags
      perf_scenario_cpu get "round $round $mode GET" $dir/super-admin.conf --concurrency 16 --http2
      perf_create_cpu "round $round $mode" $dir/super-admin.conf
      perf_stop
    done
  done
  exit 0
fi
if [ "${1:-}" = latency ]; then
  # Latency without a queue: with few requests in flight a request's p99
  # is its own cost, where with 64 writers it is mostly the wait behind
  # the others, and moves with throughput.
  for round in 1 2 3 4 5; do
    for mode in $(modes_from $round off metadata); do
      dir=/tmp/auditperf-$mode
      flags=""
      [ $mode = off ] && flags="--audit-policy-file="
      rm -rf $dir # a fresh store each time: grown by earlier rounds, each mode's would differ
      perf_start $dir $port $flags
      echo "round $round $mode GET    $(/tmp/loadgen --kubeconfig $dir/super-admin.conf --scenario get --duration 10s --concurrency 2 --http2 | tail -1)"
      echo "round $round $mode CREATE $(/tmp/loadgen --kubeconfig $dir/super-admin.conf --scenario create --duration 10s --concurrency 4 | tail -1)"
      perf_stop
    done
  done
  exit 0
fi
for round in 1 2 3 4 5; do
  for mode in $(modes_from $round off metadata rr); do
    dir=/tmp/auditperf-$mode
    case $mode in
      off) flags="--audit-policy-file=" ;;
      metadata) flags="" ;;
      rr) flags="--audit-policy-file=/tmp/perf-rr-policy.yaml" ;;
    esac
    rm -rf $dir # a fresh store each time: grown by earlier rounds, each mode's would differ
    perf_start $dir $port $flags
    perf_get_create "round $round $mode" $dir/super-admin.conf
    perf_stop
  done
done
