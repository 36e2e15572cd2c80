#!/usr/bin/env bash
# Run every Go fuzz target in the module for a short time each (default 5s).
# Crashers land in the package's testdata/fuzz and become regression tests.
#
# Fuzzing runs with Go 1.27 (FUZZ_GOTOOLCHAIN, fetched from the module proxy
# like any toolchain): Go 1.26's fuzz coordinator can fail a target with a bare
# "context deadline exceeded" when -fuzztime ends while a worker is busy
# (go.dev/issue/75804, fixed in 1.27.0), which a loaded CI machine hits.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-5s}"
export GOTOOLCHAIN="${FUZZ_GOTOOLCHAIN:-go1.27.3}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($t)"
    go test -run "^$" -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg"
  done
done
