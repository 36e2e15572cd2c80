#!/usr/bin/env bash
# Run every Go fuzz target in the module for a short time each (default 5s).
# Crashers land in the package's testdata/fuzz and become regression tests.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-5s}"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($t)"
    go test -run "^$" -fuzz "^${f}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg"
  done
done
