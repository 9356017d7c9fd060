#!/usr/bin/env bash
# Encryption's cost (docs/benchmarks.md, "Encryption at rest").
# ROUNDS (default 5) sets the rounds of overhead and cpu.
#   overhead: GET (HTTP/2, 16 streams) and CREATE (64 writers) of 1 KiB
#     Secrets, 10 s each, identity against up's aesgcm, alternating,
#     each server on a fresh data directory;
#   cpu: CREATE alone, the same way, with the server's CPU time per
#     request;
#   reencrypt: 100,000 Secrets of 1 KiB, then `sekisho encryption rotate`
#     while GETs run, with the pass's rate from the server log.
# Needs /tmp/sekisho and /tmp/loadgen built from this tree.
set -u
. "$(dirname "$0")/perflib.sh"
port=17470
what=${1:-all}
rm -rf /tmp/encperf-identity /tmp/encperf-aesgcm
# alternate MEASURE: ROUNDS rounds of a fresh server storing Secrets as
# they are, then one storing them with aesgcm, MEASURE run against each.
alternate() {
  for round in $(seq "${ROUNDS:-5}"); do
    for mode in identity aesgcm; do
      dir=/tmp/encperf-$mode
      rm -rf $dir
      flags=""
      [ $mode = identity ] && flags="--encryption-provider-config="
      perf_start $dir $port $flags
      "$1" "round $round $mode" $dir/super-admin.conf --resource secrets --value-bytes 1024
      perf_stop
    done
  done
}
[ "$what" = all ] || [ "$what" = overhead ] && alternate perf_get_create
[ "$what" = all ] || [ "$what" = cpu ] && alternate perf_create_cpu

if [ "$what" = all ] || [ "$what" = reencrypt ]; then
  dir=/tmp/encperf-reencrypt
  rm -rf $dir
  perf_start $dir $port
  K=$dir/super-admin.conf
  echo "fill: $(/tmp/loadgen --kubeconfig $K --resource secrets --value-bytes 1024 --scenario fill --objects 100000 | tail -1)"
  echo "GET without re-encryption: $(/tmp/loadgen --kubeconfig $K --resource secrets --value-bytes 1024 --scenario get --duration 20s --concurrency 16 --http2 | tail -1)"
  /tmp/loadgen --kubeconfig $K --resource secrets --value-bytes 1024 --scenario get --duration 20s --concurrency 16 --http2 > /tmp/encperf-during.txt &
  lg=$!
  sleep 2
  t0=$(date +%s.%N)
  /tmp/sekisho encryption rotate --kubeconfig $K --config $dir/encryption-config.yaml
  t1=$(date +%s.%N)
  wait $lg
  echo "rotate took $(echo "$t1 - $t0" | bc) s"
  echo "GET during re-encryption: $(tail -1 /tmp/encperf-during.txt)"
  grep "re-encryption done" $dir.log | head -3
  perf_stop
fi
