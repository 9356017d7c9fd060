#!/usr/bin/env bash
# sekisho against kube-apiserver v1.37.2 on one three-member etcd, and the
# raw etcd client on the same members (docs/benchmarks.md, "etcd: against
# kube-apiserver"). The members are `sekisho etcd` processes on 127.0.0.1,
# .2 and .3 over mutual TLS; the two API servers take turns on one port
# with one PKI, so one kubeconfig drives both. Each round measures GET
# (HTTP/2, 16 streams), CREATE (64 writers), LIST (100 lists of 1,000
# ConfigMaps, one after another),
# then etcd-get and etcd-create straight to the members.
# `kubeperf.sh cpu` measures GET and CREATE only, and prints with each
# the CPU time per request of the API server, of the three members
# together and of the load client: where a request's cost goes when all
# of them share the machine's cores.
# `kubeperf.sh ab BEFORE AFTER` compares two sekisho binaries on the same
# members instead: CREATE only (64 writers), alternating, ROUNDS rounds
# (default 4), with the CPU time per create of the server, the members
# and the load client.
# `kubeperf.sh routes` drives the members with the raw etcd client only:
# creates sent to each member alone (the leader named first), then spread
# over the three as etcd's client spreads them, ROUNDS rounds (default 4),
# with the CPU time per create.
# `kubeperf.sh profile [FILE]` runs sekisho alone under the CREATE load
# (64 writers, 20 s) and saves a 15 s CPU profile of it to FILE (default
# /tmp/sekisho-create.pprof), for `go tool pprof`, and what it allocated
# from start to the end of the load to FILE.allocs.
# Needs /tmp/sekisho, /tmp/loadgen and kube-apiserver (KUBE_BIN, default
# the compat suite's cache: test/compat/build-kube.sh builds it).
set -u
. "$(dirname "$0")/perflib.sh"
kube=${KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/sekisho/kube-v1.37.2}/kube-apiserver
[ -x "$kube" ] || { echo "no $kube: run test/compat/build-kube.sh v1.37.2" >&2; exit 1; }
dir=/tmp/kubeperf port=17590 rounds=${ROUNDS:-3} mode=${1:-throughput}
rm -rf $dir $dir-*
perf_start $dir $port && perf_stop # the PKI
pki=$dir/pki cluster="" servers=""
for i in 1 2 3; do
  /tmp/sekisho certs etcd-member --dir $dir --etcd-member m$i --etcd-address 127.0.0.$i --out $dir-m$i >/dev/null
  cluster+="${cluster:+,}m$i=https://127.0.0.$i:17592"
  servers+="${servers:+,}https://127.0.0.$i:17591"
done
pids=()
for i in 1 2 3; do
  /tmp/sekisho etcd --name m$i --pki-dir $dir-m$i/pki --data-dir $dir-m$i/data \
    --listen-client-urls https://127.0.0.$i:17591 --listen-peer-urls https://127.0.0.$i:17592 \
    --initial-cluster "$cluster" > $dir-m$i.log 2>&1 &
  pids+=($!)
done
trap 'kill ${pids[*]} 2>/dev/null; wait ${pids[*]} 2>/dev/null' EXIT
for i in 1 2 3; do
  for _ in $(seq 600); do grep -q "etcd member serving" $dir-m$i.log && break; sleep 0.1; done
done
etcd=(--etcd-servers "$servers" --etcd-cafile $pki/etcd/ca.crt
  --etcd-certfile $pki/apiserver-etcd-client.crt --etcd-keyfile $pki/apiserver-etcd-client.key)

# ticks PID... prints the processes' CPU time so far, in 1/100 s.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }

# cpu LABEL SCENARIO CONCURRENCY LOADGEN-FLAGS... runs one 10 s load and
# prints its rate with the CPU time per request of the server (perf_pid),
# the members and the load client.
cpu() {
  local label=$1 scenario=$2 conc=$3; shift 3
  local s0 e0 s1 e1 out lg
  s0=$(ticks $perf_pid); e0=$(ticks "${pids[@]}")
  out=$({ /usr/bin/time -f "loadgen-cpu %U %S" /tmp/loadgen "$@" --scenario $scenario --duration 10s --concurrency $conc --json | tail -1; } 2>&1)
  s1=$(ticks $perf_pid); e1=$(ticks "${pids[@]}")
  lg=$(echo "$out" | awk '/^loadgen-cpu/ {print ($2 + $3) * 1000000}')
  echo "$out" | grep '^{' | jq -r --arg l "$label" --argjson s $((s1 - s0)) --argjson e $((e1 - e0)) --argjson lg "${lg:-0}" \
    '"\($l) \(.perSecond | floor)/s, CPU per request: server \($s * 10000 / .requests | floor) µs, etcd members \($e * 10000 / .requests | floor) µs, loadgen \($lg / .requests | floor) µs"'
}

measure() {
  local label=$1 k=$dir/super-admin.conf
  if [ "$mode" = cpu ]; then
    cpu "$label GET   " get 16 --kubeconfig $k --namespace lg-get --http2
    cpu "$label CREATE" create 64 --kubeconfig $k --namespace lg-create
    return
  fi
  echo "$label GET    $(/tmp/loadgen --kubeconfig $k --namespace lg-get --scenario get --duration 10s --concurrency 16 --http2 | tail -1)"
  echo "$label CREATE $(/tmp/loadgen --kubeconfig $k --namespace lg-create --scenario create --duration 10s --concurrency 64 | tail -1)"
  echo "$label LIST   $(/tmp/loadgen --kubeconfig $k --namespace lg-list --scenario list --objects 1000 --lists 100 | tail -1)"
}

# kube-apiserver audits as sekisho up does: the policy up wrote, a log
# of its own with the same retention, blocking writes (the default of
# both). AUDIT=off runs both without audit.
kube_audit=(--audit-policy-file=$dir/audit-policy.yaml --audit-log-path=$dir-kube-audit/audit.log
  --audit-log-maxage=30 --audit-log-maxbackup=10 --audit-log-maxsize=100)
sekisho_audit=()
if [ "${AUDIT:-on}" = off ]; then
  kube_audit=() sekisho_audit=(--audit-policy-file=)
fi

if [ "$mode" = ab ]; then
  for round in $(seq "${ROUNDS:-4}"); do
    for b in "$2" "$3"; do
      SEKISHO_BIN=$b perf_start $dir $port "${etcd[@]}"
      sleep 1
      cpu "round $round $b CREATE" create 64 --kubeconfig $dir/super-admin.conf --namespace lg-create
      perf_stop
    done
  done
  exit 0
fi

if [ "$mode" = routes ]; then
  perf_pid=$$ # no server
  for i in 1 2 3; do
    curl -s --cacert $pki/etcd/ca.crt --cert $pki/apiserver-etcd-client.crt --key $pki/apiserver-etcd-client.key \
      https://127.0.0.$i:17591/metrics | grep -q '^etcd_server_is_leader 1' && echo "m$i leads"
  done
  for round in $(seq "${ROUNDS:-4}"); do
    for i in 1 2 3; do
      cpu "round $round m$i alone  " etcd-create 64 --etcd-servers https://127.0.0.$i:17591 "${etcd[@]:2}"
    done
    cpu "round $round all three" etcd-create 64 "${etcd[@]}"
  done
  exit 0
fi

if [ "$mode" = profile ]; then
  perf_start $dir $port "${etcd[@]}" "${sekisho_audit[@]}" --profiling
  sleep 1
  out=${2:-/tmp/sekisho-create.pprof}
  /tmp/loadgen --kubeconfig $dir/super-admin.conf --namespace lg-create --scenario create --duration 20s --concurrency 64 | tail -1 &
  lg=$!
  sleep 3
  kubectl --kubeconfig $dir/super-admin.conf get --raw '/debug/pprof/profile?seconds=15' > "$out"
  wait $lg
  kubectl --kubeconfig $dir/super-admin.conf get --raw '/debug/pprof/allocs' > "$out.allocs"
  perf_stop
  exit 0
fi

for round in $(seq "$rounds"); do
  perf_start $dir $port "${etcd[@]}" "${sekisho_audit[@]}"
  measure "round $round sekisho"
  perf_stop
  "$kube" --advertise-address=127.0.0.1 --bind-address=127.0.0.1 --secure-port=$port \
    --endpoint-reconciler-type=none --authorization-mode=Node,RBAC --client-ca-file=$pki/ca.crt \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file=$pki/sa.pub --service-account-signing-key-file=$pki/sa.key \
    --service-cluster-ip-range=10.96.0.0/12 --tls-cert-file=$pki/apiserver.crt \
    --tls-private-key-file=$pki/apiserver.key "${etcd[@]}" "${kube_audit[@]}" > $dir-kube.log 2>&1 &
  perf_pid=$!
  for _ in $(seq 600); do curl -sk "https://127.0.0.1:$port/readyz" 2>/dev/null | grep -q ok && break; sleep 0.1; done
  measure "round $round kube-apiserver"
  perf_stop
  if [ "$mode" = cpu ]; then
    perf_pid=$$ # no server: its column is this shell's idle time
    cpu "round $round etcd GET   " etcd-get 16 "${etcd[@]}"
    cpu "round $round etcd CREATE" etcd-create 64 "${etcd[@]}"
    continue
  fi
  echo "round $round etcd GET    $(/tmp/loadgen --scenario etcd-get "${etcd[@]}" --duration 10s --concurrency 16 | tail -1)"
  echo "round $round etcd CREATE $(/tmp/loadgen --scenario etcd-create "${etcd[@]}" --duration 10s --concurrency 64 | tail -1)"
done
