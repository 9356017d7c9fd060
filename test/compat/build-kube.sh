#!/usr/bin/env bash
# build-kube.sh builds the Kubernetes components the compatibility suite runs
# against sekisho: kube-apiserver (the oracle), kube-controller-manager,
# kube-scheduler and kubemark (the hollow kubelet).
#
#   test/compat/build-kube.sh [VERSION] [OUTDIR] [COMPONENT...]
#
# k8s.io/kubernetes points each of its staging modules (k8s.io/api,
# k8s.io/client-go, ...) at a ./staging directory its published module lacks,
# so it cannot be built as a plain dependency. We make a throwaway module that
# requires k8s.io/kubernetes VERSION, pins every staging module to its
# published v0.X.Y twin, and builds the commands from it. Binaries land in
# OUTDIR (default ~/.cache/sekisho/kube-VERSION), which the suite reuses; a
# component already there is not rebuilt. The first build takes about ten
# minutes on two cores.
set -euo pipefail
version=${1:-v1.37.2}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/sekisho/kube-$version}
shift $(( $# < 2 ? $# : 2 ))
components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver kube-controller-manager kube-scheduler kubemark)

missing=()
for c in "${components[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
[ ${#missing[@]} -gt 0 ] || exit 0

staging=v0${version#v1}   # v1.37.2 -> v0.37.2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module kubebuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$version" > go.mod
kubemod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
  printf '\nreplace (\n'
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\t\1 => \1 '"$staging"'#p' "$kubemod"
  printf ')\n'
} >> go.mod
{
  printf 'package main\n\nimport (\n'
  for c in "${missing[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s/app"\n' "$c"; done
  printf ')\n\nfunc main() {}\n'
} > main.go
GOFLAGS=-mod=mod go mod tidy
minor=$(echo "$version" | cut -d. -f2)
pkgs=(); for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
mkdir -p "$out"
go build -o "$out/" \
  -ldflags "-X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
  "${pkgs[@]}"
