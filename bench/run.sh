#!/usr/bin/env bash
# `make bench` and `make bench-quick` (--quick): runs the scenarios of
# bench/scenarios against private beanstalkd, redis-server and medispatcher
# processes on loopback (see loadgen/bench), measures the beanstalkd and
# fasthttp ceiling in the same run, and rewrites the generated section of
# BENCHMARKS.md and the plots in bench/plots. --quick runs
# bench/scenarios/quick only, writes no BENCHMARKS.md, and fails when a run
# is void or loses or duplicates anything; --only NAME,... runs the named
# scenarios only and writes no BENCHMARKS.md either. Needs `make build` and
# `make deps`.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bin/loadgen bin/medispatcher; do
  [ -x "$b" ] || { echo "bench: $b missing: run make build" >&2; exit 1; }
done
limit=35m
for a in "$@"; do [ "$a" = "--quick" ] && limit=3m; done
# Bounded in time whatever happens; every process it started dies with it.
exec timeout --signal=INT --kill-after=30s "$limit" bin/loadgen bench "$@"
