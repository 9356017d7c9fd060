#!/bin/bash
# ab.sh BEFORE AFTER [RUNS] [LOADGEN-FLAGS...]
#
# Compares the throughput of two sekisho binaries: for each run it starts
# each binary on a fresh data dir in turn, drives it with loadgen for 10 s
# as admin.conf (RBAC decides every request) and prints loadgen's summary
# with the server's CPU time per request and its resident memory after.
# Alternating the binaries spreads a noisy machine's drift over both.
# SCENARIO (get, create; default get) and CONCURRENCY (default 16) choose
# the load.
#
#   go build -o /tmp/loadgen ./cmd/loadgen
#   scripts/ab.sh /tmp/sekisho-old /tmp/sekisho-new 6 --http2
#   SCENARIO=create CONCURRENCY=64 scripts/ab.sh /tmp/sekisho-old /tmp/sekisho-new 6
set -euo pipefail
before=$1 after=$2 runs=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
loadgen=${LOADGEN:-/tmp/loadgen}
port=${PORT:-17446}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for _ in $(seq 1 "$runs"); do
	for which in before after; do
		bin=${!which}
		rm -rf "$work/data"
		"$bin" up --data-dir "$work/data" --secure-port "$port" >"$work/server.log" 2>&1 &
		pid=$!
		for _ in $(seq 1 100); do
			curl -sk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
			sleep 0.1
		done
		sleep 1
		printf '%-6s ' "$which"
		t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		line=$("$loadgen" --kubeconfig "$work/data/admin.conf" --scenario "${SCENARIO:-get}" --duration 10s --concurrency "${CONCURRENCY:-16}" "$@" 2>&1 | tail -1)
		t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
		n=$(echo "$line" | awk '{print $2}')
		rss=$(awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
		echo "$line server CPU $(( (t1 - t0) * 10000 / (n > 0 ? n : 1) )) µs a request, RSS $rss MiB"
		kill -INT "$pid"
		wait "$pid" || true
	done
done
