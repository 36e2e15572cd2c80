#!/usr/bin/env bash
# Run a command while CPU-bound processes compete with it, to check that the
# tests hold on a busy machine (issue 18: "make test passes 5 times in a row
# on the 2-core machine while two CPU-bound processes run beside it").
#
#   hack/load.sh make test                  # two busy loops beside make test
#   LOAD_PROCS=4 hack/load.sh go test -count=3 ./health/
#   RUNS=5 hack/load.sh make test           # five runs in a row, stop at the first failure
#
# LOAD_PROCS  number of CPU-bound processes (default 2)
# RUNS        how many times to run the command (default 1); each run's
#             exit code and wall time go to stderr, with a summary at the end
#
# The load processes are plain shell busy loops (no I/O, no memory), started
# before the command and stopped by PID when it ends, however it ends
# (including Ctrl-C). The exit code is the command's (the first failing
# run's with RUNS > 1).
set -euo pipefail

(($# > 0)) || { sed -n '2,17p' "$0" >&2; exit 2; }
LOAD_PROCS=${LOAD_PROCS:-2}
RUNS=${RUNS:-1}

log() { echo "load.sh: $*" >&2; }

pids=()
stop_load() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq 1 "$LOAD_PROCS"); do
  # A subshell spinning in bash arithmetic: one core's worth of CPU each.
  ( trap 'exit 0' TERM; i=0; while :; do i=$((i + 1)); done ) &
  pids+=("$!")
done
log "$LOAD_PROCS CPU-bound processes running (pids ${pids[*]}); command: $*"

rc=0 passed=0
for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s)
  if "$@"; then code=0; else code=$?; fi
  secs=$(($(date +%s) - t0))
  log "run $run/$RUNS: exit $code after ${secs}s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  if ((code != 0)); then rc=$code; break; fi
  passed=$((passed + 1))
done
((RUNS == 1)) || log "$passed of $RUNS runs passed in a row"
exit "$rc"
