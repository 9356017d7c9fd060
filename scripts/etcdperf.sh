#!/usr/bin/env bash
# The store's cost (docs/benchmarks.md, "etcd"): GET (HTTP/2, 16 streams)
# and CREATE (64 writers) of ConfigMaps, 10 s each, on the embedded bbolt
# file and on an etcd member (up --etcd, in the same process, over mutual
# TLS), alternating, three rounds. Needs /tmp/sekisho and /tmp/loadgen.
set -u
port=17490
for round in 1 2 3; do
  for mode in bbolt etcd; do
    dir=/tmp/etcdperf-$mode
    rm -rf $dir
    flags=""
    [ $mode = etcd ] && flags="--etcd --etcd-servers https://127.0.0.1:17492"
    /tmp/sekisho up --data-dir $dir --secure-port $port $flags > $dir.log 2>&1 &
    pid=$!
    for i in $(seq 300); do curl -sk https://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
    K=$dir/super-admin.conf
    g=$(/tmp/loadgen --kubeconfig $K --scenario get --duration 10s --concurrency 16 --http2 | tail -1)
    c=$(/tmp/loadgen --kubeconfig $K --scenario create --duration 10s --concurrency 64 | tail -1)
    echo "round $round $mode GET    $g"
    echo "round $round $mode CREATE $c"
    kill $pid; wait $pid 2>/dev/null
    sleep 1
  done
done
