#!/usr/bin/env bash
# Audit's cost (docs/benchmarks.md, "Audit"): GET (HTTP/2, 16 streams) and
# CREATE (64 writers), 10 s each, with audit off, up's default policy
# (Metadata) and RequestResponse for everything, alternating, five rounds.
# Needs /tmp/sekisho and /tmp/loadgen built from this tree.
set -u
cat > /tmp/perf-rr-policy.yaml <<'P'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: RequestResponse
P
port=17460
for round in 1 2 3 4 5; do
  for mode in off metadata rr; do
    dir=/tmp/auditperf-$mode
    case $mode in
      off) flags="--audit-policy-file=" ;;
      metadata) flags="" ;;
      rr) flags="--audit-policy-file=/tmp/perf-rr-policy.yaml" ;;
    esac
    /tmp/sekisho up --data-dir $dir --secure-port $port $flags > /tmp/auditperf-$mode.log 2>&1 &
    pid=$!
    for i in $(seq 100); do curl -sk https://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
    K=$dir/super-admin.conf
    g=$(/tmp/loadgen --kubeconfig $K --scenario get --duration 10s --concurrency 16 --http2 | tail -1)
    c=$(/tmp/loadgen --kubeconfig $K --scenario create --duration 10s --concurrency 64 | tail -1)
    echo "round $round $mode GET    $g"
    echo "round $round $mode CREATE $c"
    kill $pid; wait $pid 2>/dev/null
    sleep 1
  done
done
