#!/usr/bin/env bash
# Audit's cost (docs/benchmarks.md, "Audit"): GET (HTTP/2, 16 streams) and
# CREATE (64 writers), 10 s each, with audit off, up's default policy
# (Metadata) and RequestResponse for everything, alternating, five rounds.
# Needs /tmp/sekisho and /tmp/loadgen built from this tree.
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
for round in 1 2 3 4 5; do
  for mode in off metadata rr; do
    dir=/tmp/auditperf-$mode
    case $mode in
      off) flags="--audit-policy-file=" ;;
      metadata) flags="" ;;
      rr) flags="--audit-policy-file=/tmp/perf-rr-policy.yaml" ;;
    esac
    perf_start $dir $port $flags
    perf_get_create "round $round $mode" $dir/super-admin.conf
    perf_stop
  done
done
