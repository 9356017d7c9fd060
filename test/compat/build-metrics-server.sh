#!/usr/bin/env bash
# build-metrics-server.sh builds metrics-server from its Go module, for the
# suite's test of an aggregated API server behind sekisho and behind
# kube-apiserver.
#
#   test/compat/build-metrics-server.sh [VERSION] [OUTDIR]
#
# The binary lands in OUTDIR (default
# ~/.cache/sekisho/metrics-server-VERSION), which the suite reuses; a binary
# already there is not rebuilt. The first build takes about two minutes on
# two cores.
set -euo pipefail
version=${1:-v0.8.0}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/sekisho/metrics-server-$version}
[ -x "$out/metrics-server" ] && exit 0
mkdir -p "$out"
GOBIN="$out" go install "sigs.k8s.io/metrics-server/cmd/metrics-server@$version"
