#!/usr/bin/env bash
# Encryption's cost (docs/benchmarks.md, "Encryption at rest").
#   overhead: GET (HTTP/2, 16 streams) and CREATE (64 writers) of 1 KiB
#     Secrets, 10 s each, identity against up's aesgcm, alternating, five
#     rounds;
#   reencrypt: 100,000 Secrets of 1 KiB, then `sekisho encryption rotate`
#     while GETs run, with the pass's rate from the server log.
# Needs /tmp/sekisho and /tmp/loadgen built from this tree.
set -u
port=17470
what=${1:-all}
rm -rf /tmp/encperf-identity /tmp/encperf-aesgcm
start() { # dir flags...
  local dir=$1; shift
  /tmp/sekisho up --data-dir "$dir" --secure-port $port "$@" > "$dir.log" 2>&1 &
  pid=$!
  for i in $(seq 200); do curl -sk https://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
}
stop() { kill $pid; wait $pid 2>/dev/null; sleep 1; }

if [ "$what" = all ] || [ "$what" = overhead ]; then
  for round in 1 2 3 4 5; do
    for mode in identity aesgcm; do
      dir=/tmp/encperf-$mode
      flags=""
      [ $mode = identity ] && flags="--encryption-provider-config="
      start $dir $flags
      K=$dir/super-admin.conf
      g=$(/tmp/loadgen --kubeconfig $K --resource secrets --value-bytes 1024 --scenario get --duration 10s --concurrency 16 --http2 | tail -1)
      c=$(/tmp/loadgen --kubeconfig $K --resource secrets --value-bytes 1024 --scenario create --duration 10s --concurrency 64 | tail -1)
      echo "round $round $mode GET    $g"
      echo "round $round $mode CREATE $c"
      stop
    done
  done
fi

if [ "$what" = all ] || [ "$what" = reencrypt ]; then
  dir=/tmp/encperf-reencrypt
  rm -rf $dir
  start $dir
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
  stop
fi
