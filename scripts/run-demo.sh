#!/usr/bin/env bash
# `make run`: the demo a newcomer sees first. Starts private beanstalkd,
# redis-server and medispatcher processes on loopback, drives them with
# loadgen at a modest rate for about 20 s with a live progress line, prints
# the report and where to look next (statistics, metrics, pprof,
# BENCHMARKS.md). Everything it started stops when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bin/loadgen bin/medispatcher; do
  [ -x "$b" ] || { echo "run: $b missing: run make build" >&2; exit 1; }
done
exec bin/loadgen demo "$@"
