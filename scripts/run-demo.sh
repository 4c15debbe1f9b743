#!/usr/bin/env bash
# `make run`: the demo a newcomer sees first. Starts private beanstalkd,
# redis-server and medispatcher processes on loopback and a subscriber
# farm, prints the daemon's status page, metrics and pprof addresses,
# drives it with loadgen at a modest rate for about 20 s with a live
# progress line, then prints the report and where to look next. On a
# terminal everything keeps running after the report, so that those
# addresses can be opened, until Enter or Ctrl-C; with stdin not a terminal
# (CI, `make run </dev/null`) or with --exit (`bash scripts/run-demo.sh
# --exit`) it stops right after the report. Everything it started stops
# when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in bin/loadgen bin/medispatcher; do
  [ -x "$b" ] || { echo "run: $b missing: run make build" >&2; exit 1; }
done
exec bin/loadgen demo "$@"
