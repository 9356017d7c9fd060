#!/usr/bin/env bash
# build-helm.sh builds helm from its Go module, for the suite's helm
# install and uninstall on sekisho.
#
#   test/compat/build-helm.sh [VERSION] [OUTDIR]
#
# The binary lands in OUTDIR (default ~/.cache/sekisho/helm-VERSION), which
# the suite reuses; a binary already there is not rebuilt. The first build
# takes a few minutes on two cores.
set -euo pipefail
version=${1:-v4.3.1}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/sekisho/helm-$version}
[ -x "$out/helm" ] && exit 0
mkdir -p "$out"
GOBIN="$out" go install "helm.sh/helm/v4/cmd/helm@$version"
