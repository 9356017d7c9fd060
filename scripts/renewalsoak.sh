#!/usr/bin/env bash
# A server whose serving certificate lives 2 minutes, renewed by the
# server itself at two thirds of its lifetime, under a load client that
# opens a new TLS connection for every request, for 10 minutes: every
# request must succeed. CI runs the same with a 30-second certificate for
# 50 seconds (test/e2e TestServerRenewsItsOwnCertificate).
# Needs /tmp/sekisho and /tmp/loadgen:
#   go build -o /tmp/sekisho ./cmd/sekisho && go build -o /tmp/loadgen ./cmd/loadgen
set -euo pipefail
dir=$(mktemp -d)
port=${PORT:-16443}
trap 'kill $(jobs -p) 2>/dev/null; wait; rm -rf "$dir"' EXIT
/tmp/sekisho up --data-dir "$dir" --secure-port "$port" --bind-address 127.0.0.1 > "$dir/server.log" 2>&1 &
for _ in $(seq 100); do curl -fsk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
/tmp/sekisho certs renew apiserver --cert-validity 2m --dir "$dir" > /dev/null
/tmp/loadgen --kubeconfig "$dir/admin.conf" --scenario get --reconnect --concurrency 8 --duration "${DURATION:-10m}"
echo "renewals logged: $(grep -c '"certificate renewed" certificate=apiserver' "$dir/server.log")"
