#!/usr/bin/env bash
# The store's cost (docs/benchmarks.md, "etcd"): GET (HTTP/2, 16 streams)
# and CREATE (64 writers) of ConfigMaps, 10 s each, on the embedded bbolt
# file and on an etcd member (up --etcd, in the same process, over mutual
# TLS), alternating, three rounds. Needs /tmp/sekisho and /tmp/loadgen.
set -u
. "$(dirname "$0")/perflib.sh"
port=17490
for round in 1 2 3; do
  for mode in bbolt etcd; do
    dir=/tmp/etcdperf-$mode
    rm -rf $dir
    flags=""
    [ $mode = etcd ] && flags="--etcd --etcd-servers https://127.0.0.1:17492"
    perf_start $dir $port $flags
    perf_get_create "round $round $mode" $dir/super-admin.conf
    perf_stop
  done
done
