#!/usr/bin/env bash
# Run every Go fuzz target of the module for FUZZTIME each (default 10s).
#   scripts/fuzz.sh                  # all targets, 10 s each (what CI runs)
#   FUZZTIME=2h scripts/fuzz.sh FuzzCRLLoad   # one target, for hours
# A failing input is written to the package's testdata/fuzz/<target>/ and
# the script fails; commit the file as a regression case once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
only=${1:-}

# Targets are found in the sources: "func FuzzXxx(f *testing.F)" in a
# _test.go file, run in that file's package.
targets=()
while IFS=: read -r file line; do
  fn=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  if [ -z "$only" ] || [ "$fn" = "$only" ]; then
    targets+=("./$(dirname "$file") $fn")
  fi
done < <(grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' cmd internal test | sort)

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no target matches ${only:-anything}" >&2
  exit 1
fi

failed=0
for t in "${targets[@]}"; do
  read -r pkg fn <<<"$t"
  echo "fuzz: $fn ($pkg) for $fuzztime"
  for attempt in 1 2; do
    # Minimizing each new interesting input for at most 2 s keeps the
    # fuzzer fuzzing; a crasher is still minimized within that time.
    if out=$(go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s 2>&1); then
      echo "$out" | tail -n 2 | head -n 1
      break
    fi
    # Go's fuzzer sometimes ends with "context deadline exceeded" when the
    # time runs out mid-step, without any failing input: run it again once.
    if [ "$attempt" = 1 ] && ! grep -q 'Failing input written' <<<"$out" && grep -q 'context deadline exceeded' <<<"$out"; then
      echo "fuzz: $fn stopped on the deadline without a failure; running it again"
      continue
    fi
    echo "$out" | tail -n 40
    failed=1
    break
  done
done
exit $failed
